// A loopback stand-in for the three services temporary AWS credentials come from, checking what
// real ones check: the ECS/EKS container endpoint (GET /container/credentials with an
// Authorization token), EC2 instance metadata (IMDSv2: a PUT for a session token, 401 for a GET
// without it) and STS AssumeRoleWithWebIdentity (POST / with form parameters, XML answers).
// Header-only test support, on client_test_server.hpp's TestServer.
#pragma once

#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "client_test_server.hpp"

namespace ragd::http::test {

/// One set of credentials the fake hands out.
struct FakeCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
    std::chrono::system_clock::time_point expiration;
};

/// "2024-05-01T12:34:56Z".
inline std::string iso8601(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

/// application/x-www-form-urlencoded -> name/value pairs.
inline std::map<std::string, std::string> decode_form(std::string_view body) {
    const auto decode = [](std::string_view text) {
        std::string out;
        for (std::size_t idx = 0; idx < text.size(); ++idx) {
            if (text[idx] == '+') {
                out += ' ';
            } else if (text[idx] == '%' && idx + 2 < text.size() &&
                       std::isxdigit(static_cast<unsigned char>(text[idx + 1])) != 0 &&
                       std::isxdigit(static_cast<unsigned char>(text[idx + 2])) != 0) {
                out +=
                    static_cast<char>(std::stoi(std::string(text.substr(idx + 1, 2)), nullptr, 16));
                idx += 2;
            } else {
                out += text[idx];
            }
        }
        return out;
    };
    std::map<std::string, std::string> fields;
    while (!body.empty()) {
        const std::size_t amp = body.find('&');
        const std::string_view pair = body.substr(0, amp);
        const std::size_t equals = pair.find('=');
        fields[decode(pair.substr(0, equals))] =
            equals == std::string_view::npos ? "" : decode(pair.substr(equals + 1));
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    }
    return fields;
}

inline std::string status_response(int status,
                                   std::string_view body,
                                   std::string_view content_type = "application/json") {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: " + std::string(content_type) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

inline std::string sts_error_xml(std::string_view code, std::string_view message) {
    return "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
           "<Type>Sender</Type><Code>" +
           std::string(code) + "</Code><Message>" + std::string(message) +
           "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
}

class FakeAwsCredentialsServer {
public:
    static constexpr std::string_view kContainerPath = "/container/credentials";
    static constexpr std::string_view kImdsRole = "ragd-test-role";
    static constexpr std::string_view kImdsSession = "imds-session-token-7";

    FakeAwsCredentialsServer()
        : server_([this](ServerConnection& connection) {
              while (auto request = connection.read_request()) {
                  server_.count_request();
                  if (holding()) {
                      record(*request);
                      connection.wait_closed();  // answers nothing until the client gives up
                      return;
                  }
                  if (!connection.write(respond(*request))) {
                      return;
                  }
              }
          }) {}

    std::string url() const { return server_.url(); }
    std::uint16_t port() const { return server_.port(); }

    /// The n-th successful credentials answer hands out sets[n] (the last one once past the end).
    void hand_out(std::vector<FakeCredentials> sets) {
        const std::lock_guard lock(mutex_);
        sets_ = std::move(sets);
    }
    /// The next `count` credential fetches fail with `status` (an STS error XML for STS).
    void fail_next(int count, int status = 500) {
        const std::lock_guard lock(mutex_);
        failures_left_ = count;
        failure_status_ = status;
    }
    /// Answers credential fetches with this body (200) instead of credentials; "" = normal.
    void answer_with(std::string body) {
        const std::lock_guard lock(mutex_);
        raw_body_ = std::move(body);
    }
    /// Container endpoint: the Authorization header required ("" = none).
    void expect_container_token(std::string token) {
        const std::lock_guard lock(mutex_);
        container_token_ = std::move(token);
    }
    /// STS: the parameters required.
    void expect_web_identity(std::string role_arn, std::string session, std::string token) {
        const std::lock_guard lock(mutex_);
        role_arn_ = std::move(role_arn);
        session_name_ = std::move(session);
        web_identity_token_ = std::move(token);
    }
    /// While set, requests are read but never answered.
    void hold(bool on) {
        const std::lock_guard lock(mutex_);
        holding_ = on;
    }
    /// Credential fetches answered with credentials or a failure (not refused ones).
    int credential_answers() const {
        const std::lock_guard lock(mutex_);
        return answers_;
    }
    std::vector<ReceivedRequest> requests() const {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    bool holding() const {
        const std::lock_guard lock(mutex_);
        return holding_;
    }
    void record(const ReceivedRequest& request) {
        const std::lock_guard lock(mutex_);
        requests_.push_back(request);
    }

    std::string respond(const ReceivedRequest& request) {
        const std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (request.method == "GET" && request.target == kContainerPath) {
            if (!container_token_.empty() && request.header("authorization") != container_token_) {
                return status_response(401, R"({"code":"Unauthorized"})");
            }
            return credentials_json();
        }
        if (request.target == "/latest/api/token") {
            if (request.method != "PUT" ||
                request.header("x-aws-ec2-metadata-token-ttl-seconds").empty()) {
                return status_response(400, "token request needs PUT and a TTL", "text/plain");
            }
            return status_response(200, kImdsSession, "text/plain");
        }
        const std::string imds_prefix = "/latest/meta-data/iam/security-credentials/";
        if (request.target.starts_with(imds_prefix)) {
            if (request.header("x-aws-ec2-metadata-token") != kImdsSession) {
                return status_response(401, "", "text/plain");  // IMDSv1 refused
            }
            if (request.target == imds_prefix) {
                return status_response(200, std::string(kImdsRole) + "\n", "text/plain");
            }
            if (request.target != imds_prefix + std::string(kImdsRole)) {
                return status_response(404, "", "text/plain");
            }
            return credentials_json();
        }
        if (request.method == "POST" && request.target == "/") {
            return sts_answer(request);
        }
        return status_response(404, "", "text/plain");
    }

    /// The next set, or nullopt (and the failure's status) while failures are pending.
    std::optional<FakeCredentials> next_set(int& failure_status) {
        ++answers_;
        if (failures_left_ > 0) {
            --failures_left_;
            failure_status = failure_status_;
            return std::nullopt;
        }
        const FakeCredentials set =
            sets_.empty() ? FakeCredentials{} : sets_[std::min(served_, sets_.size() - 1)];
        ++served_;
        return set;
    }

    std::string credentials_json() {
        int failure = 0;
        const auto set = next_set(failure);
        if (!set) {
            return status_response(failure, R"({"code":"InternalError","message":"try later"})");
        }
        if (!raw_body_.empty()) {
            return status_response(200, raw_body_);
        }
        return status_response(200,
                               R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" +
                                   set->access_key_id + R"(","SecretAccessKey":")" +
                                   set->secret_access_key + R"(","Token":")" + set->session_token +
                                   R"(","Expiration":")" + iso8601(set->expiration) + R"("})");
    }

    std::string sts_answer(const ReceivedRequest& request) {
        auto form = decode_form(request.body);
        if (form["Action"] != "AssumeRoleWithWebIdentity" || form["Version"] != "2011-06-15" ||
            request.header("content-type").find("application/x-www-form-urlencoded") ==
                std::string::npos) {
            return status_response(400, sts_error_xml("InvalidAction", "bad action"), "text/xml");
        }
        if ((!role_arn_.empty() && form["RoleArn"] != role_arn_) ||
            (!session_name_.empty() && form["RoleSessionName"] != session_name_)) {
            return status_response(400, sts_error_xml("ValidationError", "wrong role"), "text/xml");
        }
        if (!web_identity_token_.empty() && form["WebIdentityToken"] != web_identity_token_) {
            return status_response(
                400,
                sts_error_xml("InvalidIdentityToken", "Incoming token is not valid &amp; known"),
                "text/xml");
        }
        int failure = 0;
        const auto set = next_set(failure);
        if (!set) {
            return status_response(
                failure, sts_error_xml("ServiceUnavailable", "STS is resting"), "text/xml");
        }
        if (!raw_body_.empty()) {
            return status_response(200, raw_body_, "text/xml");
        }
        return status_response(200,
                               "<AssumeRoleWithWebIdentityResponse "
                               "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                               "  <AssumeRoleWithWebIdentityResult>\n"
                               "    <SubjectFromWebIdentityToken>system:serviceaccount:ns:ragd"
                               "</SubjectFromWebIdentityToken>\n"
                               "    <Credentials>\n"
                               "      <SessionToken>" +
                                   set->session_token + "</SessionToken>\n      <SecretAccessKey>" +
                                   set->secret_access_key +
                                   "</SecretAccessKey>\n      <Expiration>" +
                                   iso8601(set->expiration) + "</Expiration>\n      <AccessKeyId>" +
                                   set->access_key_id +
                                   "</AccessKeyId>\n"
                                   "    </Credentials>\n"
                                   "  </AssumeRoleWithWebIdentityResult>\n"
                                   "</AssumeRoleWithWebIdentityResponse>\n",
                               "text/xml");
    }

    mutable std::mutex mutex_;
    std::vector<FakeCredentials> sets_;
    std::size_t served_ = 0;
    int answers_ = 0;
    int failures_left_ = 0;
    int failure_status_ = 500;
    bool holding_ = false;
    std::string raw_body_;
    std::string container_token_;
    std::string role_arn_;
    std::string session_name_;
    std::string web_identity_token_;
    std::vector<ReceivedRequest> requests_;
    TestServer server_;  ///< last: its threads call respond(), which uses the members above
};

}  // namespace ragd::http::test
