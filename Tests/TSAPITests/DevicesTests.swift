import Foundation
import TSAPI
import Testing

/// DeviceID, ConnectionID, Connection and FlexibleList: the shapes adapters disagree on (the ingest envelope, docs/api.md).
@Suite("Devices")
struct DevicesTests {
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    // MARK: DeviceID

    @Test func deviceIDFromAString() throws {
        let device = try Self.decode(DeviceID.self, #""5001""#)
        #expect(device == DeviceID("5001"))
        #expect(device.deviceIDType == nil)
        #expect(device.deviceIDStatus == nil)
    }

    @Test func deviceIDFromAnObject() throws {
        let json = #"{"deviceID":"6135550100","deviceIDType":"EXPLICIT_PUBLIC_UNKNOWN","deviceIDStatus":"ID_PROVIDED"}"#
        let device = try Self.decode(DeviceID.self, json)
        #expect(device.deviceID == "6135550100")
        #expect(device.deviceIDType == "EXPLICIT_PUBLIC_UNKNOWN")
        #expect(device.deviceIDStatus == "ID_PROVIDED")
    }

    @Test func deviceIDObjectWithOnlyTheID() throws {
        #expect(try Self.decode(DeviceID.self, #"{"deviceID":"5001"}"#) == DeviceID("5001"))
    }

    @Test func deviceIDObjectWithNumericTypeKeepsTheID() throws {
        let device = try Self.decode(DeviceID.self, #"{"deviceID":"5001","deviceIDType":40}"#)
        #expect(device.deviceID == "5001")
        #expect(device.deviceIDType == nil)
    }

    @Test func stringLiteral() {
        let device: DeviceID = "5001"
        #expect(device.deviceID == "5001")
    }

    @Test func isKnown() {
        #expect(DeviceID("5001").isKnown)
        #expect(DeviceID("5001", status: "ID_PROVIDED").isKnown)
        #expect(!DeviceID("").isKnown)
        #expect(!DeviceID("5001", status: "ID_NOT_KNOWN").isKnown)
    }

    @Test func unknownDeviceFromAnObjectWithoutID() throws {
        let json = #"{"deviceIDType":"IMPLICIT_PUBLIC","deviceIDStatus":"ID_NOT_KNOWN"}"#
        let device = try Self.decode(DeviceID.self, json)
        #expect(device.deviceIDStatus == "ID_NOT_KNOWN")
        #expect(!device.isKnown)
    }

    @Test func deviceIDEncodesInObjectFormAndRoundTrips() throws {
        let device = DeviceID("5001", type: "IMPLICIT_PRIVATE", status: "ID_PROVIDED")
        let data = try JSONEncoder().encode(device)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(object == ["deviceID": "5001", "deviceIDType": "IMPLICIT_PRIVATE", "deviceIDStatus": "ID_PROVIDED"])
        #expect(try JSONDecoder().decode(DeviceID.self, from: data) == device)
    }

    @Test(arguments: ["42", "true", "[1,2]", "null"])
    func deviceIDOfAnotherShapeThrows(_ json: String) {
        #expect(throws: (any Error).self) { try Self.decode(DeviceID.self, json) }
    }

    // MARK: ConnectionID

    @Test func connectionID() throws {
        let json = #"{"callID":1001,"deviceID":"5001","devIDType":"STATIC_ID"}"#
        let connection = try Self.decode(ConnectionID.self, json)
        #expect(connection == ConnectionID(callID: 1001, deviceID: "5001", devIDType: "STATIC_ID"))
        #expect(!connection.isTrunk)
    }

    @Test func connectionIDReadsLeniently() throws {
        let connection = try Self.decode(
            ConnectionID.self, #"{"callID":"1001","deviceID":{"deviceID":"T1#1"},"devIDType":"DYNAMIC_ID"}"#)
        #expect(connection == ConnectionID(callID: 1001, deviceID: "T1#1", devIDType: "DYNAMIC_ID"))
        #expect(connection.isTrunk)
    }

    @Test func connectionIDWithoutCallIDIsZero() throws {
        let connection = try Self.decode(ConnectionID.self, #"{"deviceID":"5001"}"#)
        #expect(connection.callID == 0)
        #expect(connection.deviceID == "5001")
        #expect(connection.devIDType == nil)
    }

    @Test func connectionIDWithJunkCallIDIsZero() throws {
        let connection = try Self.decode(ConnectionID.self, #"{"callID":"abc","deviceID":"5001"}"#)
        #expect(connection.callID == 0)
    }

    // MARK: Connection

    @Test func connectionWithParty() throws {
        let json = #"{"party":{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID"},"staticDevice":"5002"}"#
        let connection = try Self.decode(Connection.self, json)
        #expect(connection.party == ConnectionID(callID: 1003, deviceID: "5002", devIDType: "STATIC_ID"))
        #expect(connection.staticDevice == DeviceID("5002"))
    }

    @Test func connectionWithObjectStaticDevice() throws {
        let json = #"{"party":{"callID":1003,"deviceID":"T1#1"},"staticDevice":{"deviceID":"3001"}}"#
        #expect(try Self.decode(Connection.self, json).staticDevice == DeviceID("3001"))
    }

    @Test func flattenedConnection() throws {
        let json = #"{"callID":1003,"deviceID":"5002","devIDType":"STATIC_ID","staticDevice":"5002"}"#
        let connection = try Self.decode(Connection.self, json)
        #expect(connection.party == ConnectionID(callID: 1003, deviceID: "5002", devIDType: "STATIC_ID"))
        #expect(connection.staticDevice == DeviceID("5002"))
    }

    @Test func connectionWithoutStaticDevice() throws {
        let connection = try Self.decode(Connection.self, #"{"party":{"callID":1003,"deviceID":"5002"}}"#)
        #expect(connection.staticDevice == nil)
    }

    // MARK: FlexibleList

    @Test func flexibleListFromAPlainArray() throws {
        let list = try Self.decode(
            FlexibleList<ConnectionID>.self, #"[{"callID":1,"deviceID":"a"},{"callID":2,"deviceID":"b"}]"#)
        #expect(list.items.map(\.callID) == [1, 2])
    }

    @Test func flexibleListFromACountStruct() throws {
        let json = #"{"count":2,"connection":[{"callID":1,"deviceID":"a"},{"callID":2,"deviceID":"b"}]}"#
        let list = try Self.decode(FlexibleList<ConnectionID>.self, json)
        #expect(list.items.map(\.callID) == [1, 2])
    }

    @Test func flexibleListSkipsUnreadableElements() throws {
        let json = #"[{"callID":1,"deviceID":"a"},"junk",[1],null,{"callID":2,"deviceID":"b"}]"#
        let list = try Self.decode(FlexibleList<ConnectionID>.self, json)
        #expect(list.items.map(\.callID) == [1, 2])
    }

    @Test func flexibleListEmptyForms() throws {
        #expect(try Self.decode(FlexibleList<ConnectionID>.self, "[]").items.isEmpty)
        #expect(try Self.decode(FlexibleList<ConnectionID>.self, #"{"count":0}"#).items.isEmpty)
        #expect(try Self.decode(FlexibleList<ConnectionID>.self, #"{"count":0,"connection":[]}"#).items.isEmpty)
    }

    @Test func flexibleListEncodesAsAPlainArray() throws {
        let list = FlexibleList([DeviceID("5001"), DeviceID("5002")])
        let data = try JSONEncoder().encode(list)
        #expect(String(decoding: data, as: UTF8.self) == #"[{"deviceID":"5001"},{"deviceID":"5002"}]"#)
        #expect(try JSONDecoder().decode(FlexibleList<DeviceID>.self, from: data) == list)
    }
}
