import CallTrailServer
import Foundation
import HummingbirdTesting
import Testing

/// HEAD, which HTTP asks every server to answer where it answers GET (load balancers check `/health` with it,
/// `curl -I` sends it): the GET route's status and headers, no body, and the same access rules as GET.
struct HeadRequestTests {
    @Test func headIsGetWithoutItsBody() async throws {
        try await AppHarness.withApp { client, _ in
            let http = RawHTTP(port: try #require(client.port))
            let get = try await http.exchangeOffPool("GET", "/health")
            let head = try await http.exchangeOffPool("HEAD", "/health")
            #expect(head.status == 200)
            #expect(head.body.isEmpty, "\(head.body)")
            #expect(head.headers["content-length"] == get.headers["content-length"], "\(head.headers) \(get.headers)")
            #expect(head.headers["content-type"] == get.headers["content-type"])

            // A route with parameters, and one that answers 404 by GET answers it by HEAD too.
            #expect(try await http.exchangeOffPool("HEAD", "/v1/journeys?limit=1").status == 200)
            #expect(try await http.exchangeOffPool("HEAD", "/v1/journeys?limit=0").status == 400)
            #expect(try await http.exchangeOffPool("HEAD", "/v1/calls/00001000421700000000").status == 404)

            // A path that takes no GET takes no HEAD; a 405 lists HEAD beside GET where GET is.
            let post = try await http.exchangeOffPool("HEAD", "/v1/tokens/nosuch")
            #expect(post.status == 405, "\(post.status) \(post.headers)")
            let trace = try await http.exchangeOffPool("TRACE", "/health")
            #expect(trace.headers["allow"] == "GET, HEAD", "\(trace.headers)")
        }
    }

    @Test func headNeedsTheScopeGetNeeds() async throws {
        try await AppHarness.withApp { client, _ in
            let admin = try await AccessTests.token(client, "ops", ["admin"])
            let writer = try await AccessTests.token(client, "ivr", ["userdata:write"], as: admin)
            let http = RawHTTP(port: try #require(client.port))
            #expect(try await http.exchangeOffPool("HEAD", "/v1/events").status == 401)
            let forbidden = try await http.exchangeOffPool(
                "HEAD", "/v1/events", headers: ["Authorization": "Bearer \(writer)"])
            #expect(forbidden.status == 403)
            let allowed = try await http.exchangeOffPool(
                "HEAD", "/v1/events", headers: ["Authorization": "Bearer \(admin)"])
            #expect(allowed.status == 200)
            #expect(allowed.body.isEmpty)
        }
    }
}
