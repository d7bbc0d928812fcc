// How the mock checks a Bedrock request's SigV4 Authorization header: its shape always, and,
// when the mock knows the secret key, the signature itself, recomputed from the request as it
// arrived. That makes ragd's signing testable end to end (Host, path prefix, body and the
// headers it signs are what the server sees, not what the client meant to send).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ragd::mock {

/// Looks a request header up by name (case-insensitive); nullopt when absent.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

/// "" when the request is acceptable; otherwise why not (for a 403 body). `secret` empty =
/// check the header's shape and the presence of the headers it names only.
std::string check_sigv4(std::string_view authorization,
                        const HeaderLookup& header,
                        std::string_view method,
                        std::string_view target,
                        std::string_view body,
                        std::string_view secret);

}  // namespace ragd::mock
