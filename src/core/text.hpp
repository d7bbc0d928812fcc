// Trimming of ASCII whitespace, in the two senses the code needs: any whitespace (config
// values, URLs, bodies of AWS credential answers) and HTTP's optional whitespace, spaces and
// tabs only (header values, where a CR or LF must never be quietly dropped).
#pragma once

#include <cctype>
#include <string_view>

namespace ragd::core {

/// `text` without leading and trailing whitespace (std::isspace: space, \t, \n, \v, \f, \r).
inline std::string_view trim_whitespace(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
        text.remove_suffix(1);
    }
    return text;
}

/// `text` without leading and trailing spaces and tabs (RFC 9110's OWS).
inline std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace ragd::core
