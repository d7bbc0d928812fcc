// libFuzzer harness for the parsers of AWS temporary credentials: the JSON of the ECS / EKS
// container endpoint and of EC2 instance metadata, and the XML of STS AssumeRoleWithWebIdentity.
// Those bytes come from the network; whatever they are, the parsers must not crash, a success
// must carry all three keys, and error messages (logged at startup and on every failed refresh)
// must stay short, valid UTF-8. The first input byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/utf8.hpp"
#include "http/aws_credential_parse.hpp"

namespace {

// The longest message an error may carry: a field name or a service's Code and Message, not
// the body itself.
constexpr std::size_t kMaxMessageBytes = 2048;

template <class Result>
void check(const Result& result) {
    if (result) {
        const auto& keys = result->credentials;
        if (keys.access_key_id.empty() || keys.secret_access_key.empty() ||
            keys.session_token.empty()) {
            std::abort();  // a success always has all three keys
        }
        return;
    }
    const std::string& detail = result.error().detail;
    if (detail.size() > kMaxMessageBytes || !ragd::core::is_valid_utf8(detail)) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 4) {
        case 0:
            check(ragd::http::parse_credentials_json(body));
            break;
        case 1:
            check(ragd::http::parse_assume_role_response(body));
            break;
        case 2: {
            (void)ragd::http::parse_iso8601(body);
            if (auto message = ragd::http::sts_error_message(body)) {
                if (!ragd::core::is_valid_utf8(*message)) {
                    std::abort();
                }
            }
            break;
        }
        default: {
            // 200 bytes of the body, each invalid byte at worst one U+FFFD (3 bytes), then "...".
            const std::string excerpt = ragd::http::body_excerpt(body);
            if (excerpt.size() > 3 * 200 + 3 || !ragd::core::is_valid_utf8(excerpt)) {
                std::abort();
            }
            break;
        }
    }
    return 0;
}
