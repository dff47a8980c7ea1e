import Foundation
import TSAPI
import Testing

private let trunk1 =
    #"{"connection":{"callID":1001,"deviceID":"T1#1","devIDType":"DYNAMIC_ID"},"#
    + #""trunkGroup":"10","trunkMember":"5"}"#
private let trunk2 =
    #"{"connection":{"callID":1002,"deviceID":"T2#1","devIDType":"DYNAMIC_ID"},"#
    + #""trunkGroup":11,"trunkMember":6}"#
private let history1 =
    #"{"olddeviceID":"5001","cause":"EC_TRANSFER","#
    + #""oldconnectionID":{"callID":1001,"deviceID":"5001","devIDType":"STATIC_ID"}}"#
private let history2 =
    #"{"olddeviceID":{"deviceID":"7001"},"cause":"EC_REDIRECTED","#
    + #""oldconnectionID":{"callID":"1000","deviceID":"7001"}}"#

/// Avaya private data (`att`) decoded leniently.
@Suite("ATTPrivateData")
struct ATTPrivateDataTests {
    static func decode(_ json: String) throws -> ATTPrivateData {
        try JSONDecoder().decode(ATTPrivateData.self, from: Data(json.utf8))
    }

    // MARK: Lists

    @Test(arguments: [
        "[\(trunk1),\(trunk2)]",
        #"{"count":2,"trunks":[\#(trunk1),\#(trunk2)]}"#,
        #"{"trunks":[\#(trunk1),\#(trunk2)],"count":2}"#,
    ])
    func trunkListAsArrayOrStruct(_ list: String) throws {
        let att = try Self.decode(#"{"trunkList":\#(list)}"#)
        try #require(att.trunkList.count == 2)
        #expect(att.trunkList[0].connection == ConnectionID(callID: 1001, deviceID: "T1#1", devIDType: "DYNAMIC_ID"))
        #expect(att.trunkList[0].trunkGroup == "10")
        #expect(att.trunkList[0].trunkMember == "5")
        #expect(att.trunkList[1].connection?.callID == 1002)
        #expect(att.trunkList[1].trunkGroup == "11")
        #expect(att.trunkList[1].trunkMember == "6")
    }

    @Test(arguments: [
        "[\(history1),\(history2)]",
        #"{"count":2,"deviceHistoryList":[\#(history1),\#(history2)]}"#,
    ])
    func deviceHistoryAsArrayOrStruct(_ list: String) throws {
        let att = try Self.decode(#"{"deviceHistory":\#(list)}"#)
        try #require(att.deviceHistory.count == 2)
        #expect(att.deviceHistory[0].olddeviceID == "5001")
        #expect(att.deviceHistory[0].cause == "EC_TRANSFER")
        #expect(
            att.deviceHistory[0].oldconnectionID
                == ConnectionID(callID: 1001, deviceID: "5001", devIDType: "STATIC_ID"))
        #expect(att.deviceHistory[1].olddeviceID == "7001")
        #expect(att.deviceHistory[1].cause == "EC_REDIRECTED")
        #expect(att.deviceHistory[1].oldconnectionID?.callID == 1000)
    }

    /// FlexibleList skips what it cannot read: a string or a number is not a trunk or a history entry.
    @Test func unreadableListElementsAreSkipped() throws {
        let trunks = #"[\#(trunk1),"junk",7,\#(trunk2)]"#
        let history = #"{"count":2,"deviceHistoryList":[null,\#(history1)]}"#
        let att = try Self.decode(#"{"trunkList":\#(trunks),"deviceHistory":\#(history)}"#)
        #expect(att.trunkList.map(\.connection?.callID) == [1001, 1002])
        #expect(att.deviceHistory.map(\.olddeviceID) == ["5001"])
    }

    @Test func originalCallInfoDeviceHistoryAsStruct() throws {
        let history = #"{"count":1,"deviceHistoryList":[\#(history1)]}"#
        let att = try Self.decode(#"{"originalCallInfo":{"reason":"OR_TRANSFERRED","deviceHistory":\#(history)}}"#)
        let original = try #require(att.originalCallInfo)
        #expect(original.reason == "OR_TRANSFERRED")
        #expect(original.deviceHistory.map(\.olddeviceID) == ["5001"])
    }

    @Test func absentOrUnreadableListsAreEmpty() throws {
        #expect(try Self.decode("{}").trunkList.isEmpty)
        #expect(try Self.decode("{}").deviceHistory.isEmpty)
        let junk = try Self.decode(#"{"trunkList":"none","deviceHistory":17}"#)
        #expect(junk.trunkList.isEmpty)
        #expect(junk.deviceHistory.isEmpty)
    }

    // MARK: Scalars and structs

    @Test func readsTransferredPrivateData() throws {
        let json = """
            {"originalCallInfo":{"reason":"OR_CONSULTATION","callingDevice":"6135550100",\
            "calledDevice":{"deviceID":"8005551234"},"trunkGroup":"10","trunkMember":"5",\
            "userInfo":{"type":"UUI_IA5_ASCII","data":"ACCT=1"},"ucid":"00001000421700000000",\
            "lookaheadInfo":{"type":"LAI_ALL_INTERFLOW","priority":"LAI_TOP","hours":"0","minutes":1,"seconds":30,\
            "sourceVDN":"7001"},\
            "userEnteredCode":{"type":"UE_CALL_PROMPTER","indicator":"UE_COLLECT","data":1234,\
            "collectVDN":{"deviceID":"7001"}}},\
            "distributingDevice":"7001","ucid":"00001000431700000060","consultMode":"ATT_CM_TRANSFER",\
            "logicalAgent":{"deviceID":"9001"},"reason":3}
            """
        let att = try Self.decode(json)
        #expect(att.ucidValue?.rawValue == "00001000431700000060")
        #expect(att.distributingDevice == DeviceID("7001"))
        #expect(att.consultMode == "ATT_CM_TRANSFER")
        #expect(att.logicalAgent == "9001")
        #expect(att.reason == "3")
        let original = try #require(att.originalCallInfo)
        #expect(original.reason == "OR_CONSULTATION")
        #expect(original.callingDevice == DeviceID("6135550100"))
        #expect(original.calledDevice == DeviceID("8005551234"))
        #expect(original.trunkGroup == "10")
        #expect(original.trunkMember == "5")
        #expect(original.userInfo?.data == "ACCT=1")
        #expect(original.ucidValue?.rawValue == "00001000421700000000")
        let lookahead = try #require(original.lookaheadInfo)
        #expect(lookahead.type == "LAI_ALL_INTERFLOW")
        #expect(lookahead.priority == "LAI_TOP")
        #expect(lookahead.hours == 0)
        #expect(lookahead.minutes == 1)
        #expect(lookahead.seconds == 30)
        #expect(lookahead.sourceVDN == "7001")
        #expect(
            original.userEnteredCode
                == UserEnteredCode(
                    type: "UE_CALL_PROMPTER", indicator: "UE_COLLECT", data: "1234", collectVDN: "7001"))
    }

    @Test func readsNetworkReachedAndFailedPrivateData() throws {
        let att = try Self.decode(
            #"{"progressLocation":"PL_PUB_LOCAL","progressDescription":"PD_CALL_OFF_ISDN","callingDevice":"5001"}"#)
        #expect(att.progressLocation == "PL_PUB_LOCAL")
        #expect(att.progressDescription == "PD_CALL_OFF_ISDN")
        #expect(att.callingDevice == DeviceID("5001"))
    }

    @Test func emptyPrivateData() {
        let att = ATTPrivateData()
        #expect(att.ucid == nil)
        #expect(att.ucidValue == nil)
        #expect(att.trunkList.isEmpty)
        #expect(att.deviceHistory.isEmpty)
        #expect(att.split == nil)
    }

    // MARK: ucidValue

    @Test func ucidValueOfAValidUCID() throws {
        let att = try Self.decode(#"{"ucid":"00025000160955721139"}"#)
        let ucid = try #require(att.ucidValue)
        #expect(ucid.node == 25)
        #expect(ucid.sequence == 16)
        #expect(ucid.originationEpochSeconds == 955_721_139)
    }

    @Test(arguments: ["00000000000000000000", "", "123", "0002500016095572113x"])
    func ucidValueIsNilButTheRawTextIsKept(_ text: String) throws {
        let att = try Self.decode(#"{"ucid":"\#(text)"}"#)
        #expect(att.ucid == text)
        #expect(att.ucidValue == nil)
    }

    @Test func originalCallInfoUCIDValue() throws {
        let json = #"{"ucid":"00000000000000000000","originalCallInfo":{"ucid":"00025000160955721139"}}"#
        let att = try Self.decode(json)
        #expect(att.ucidValue == nil)
        #expect(att.originalCallInfo?.ucidValue?.rawValue == "00025000160955721139")
    }

    // MARK: UserToUserInfo

    @Test func userSpecificUUIIsHex() {
        let uui = UserToUserInfo(type: "UUI_USER_SPECIFIC", data: "C8050102")
        #expect(uui.bytes == [0xC8, 0x05, 0x01, 0x02])
    }

    @Test func userSpecificUUIAcceptsLowercaseAndSeparators() {
        #expect(UserToUserInfo(type: "UUI_USER_SPECIFIC", data: "c8050aff").bytes == [0xC8, 0x05, 0x0A, 0xFF])
        #expect(UserToUserInfo(type: "UUI_USER_SPECIFIC", data: "C8 05 01 02").bytes == [0xC8, 0x05, 0x01, 0x02])
    }

    @Test func ia5UUIIsText() {
        let uui = UserToUserInfo(type: "UUI_IA5_ASCII", data: "ACCT=998877;LANG=FR")
        #expect(uui.bytes == Array("ACCT=998877;LANG=FR".utf8))
    }

    /// Text that happens to look like hex stays text unless the type says user-specific.
    @Test func hexLookingTextIsNotDecodedWithoutTheUserSpecificType() {
        #expect(UserToUserInfo(type: "UUI_IA5_ASCII", data: "C805").bytes == [0x43, 0x38, 0x30, 0x35])
        #expect(UserToUserInfo(type: nil, data: "C805").bytes == [0x43, 0x38, 0x30, 0x35])
    }

    @Test func uuiDecodesFromTheEnvelope() throws {
        let att = try Self.decode(#"{"userInfo":{"type":"UUI_USER_SPECIFIC","data":"C8050102"}}"#)
        let uui = try #require(att.userInfo)
        #expect(uui.type == "UUI_USER_SPECIFIC")
        #expect(uui.bytes == [0xC8, 0x05, 0x01, 0x02])
    }

    @Test func uuiDecodesTheCStructDataForm() throws {
        let att = try Self.decode(#"{"userInfo":{"type":"UUI_USER_SPECIFIC","data":{"length":4,"value":"C8050102"}}}"#)
        #expect(att.userInfo?.data == "C8050102")
        #expect(att.userInfo?.bytes == [0xC8, 0x05, 0x01, 0x02])
    }

    @Test func uuiWithoutDataIsEmpty() throws {
        let att = try Self.decode(#"{"userInfo":{"type":"UUI_NONE"}}"#)
        #expect(att.userInfo?.data == "")
        #expect(att.userInfo?.bytes == [])
    }

    /// Reference §3: `User-to-User: 00FA080019001038F725B3` carries the UCID of the test vector.
    @Test func sharedUUICarriesABinaryUCID() throws {
        let bytes = UserToUserInfo(type: "UUI_USER_SPECIFIC", data: "00FA080019001038F725B3").bytes
        try #require(bytes.count == 11)
        #expect(Array(bytes[0..<3]) == [0x00, 0xFA, 0x08])
        let ucid = try #require(UCID(binary: bytes[3...]))
        #expect(ucid.rawValue == "00025000160955721139")
    }

    @Test func uuiEncodesAndDecodesBack() throws {
        let uui = UserToUserInfo(type: "UUI_IA5_ASCII", data: "A=\"1\"")
        let data = try JSONEncoder().encode(uui)
        #expect(try JSONDecoder().decode(UserToUserInfo.self, from: data) == uui)
    }
}
