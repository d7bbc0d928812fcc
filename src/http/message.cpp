// Request/Response helpers: method names, header lookup, JSON error bodies and percent-decoding.
// Kept free of Beast so that the router and its tests compile fast.
#include "http/message.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>

#include <boost/json.hpp>

#include "core/utf8.hpp"

namespace ragd::http {

const char* method_name(Method method) {
    switch (method) {
        case Method::kGet:
            return "GET";
        case Method::kHead:
            return "HEAD";
        case Method::kPost:
            return "POST";
        case Method::kPut:
            return "PUT";
        case Method::kDelete:
            return "DELETE";
        case Method::kPatch:
            return "PATCH";
        case Method::kOptions:
            return "OPTIONS";
        case Method::kOther:
            return "OTHER";
    }
    return "OTHER";
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t char_idx = 0; char_idx < a.size(); ++char_idx) {
        if (std::tolower(static_cast<unsigned char>(a[char_idx])) !=
            std::tolower(static_cast<unsigned char>(b[char_idx]))) {
            return false;
        }
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const Header& candidate : headers) {
        if (iequals(candidate.name, name)) {
            return std::string_view(candidate.value);
        }
    }
    return std::nullopt;
}

Response Response::json(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

Response Response::error(int status, std::string_view type, std::string_view message) {
    // Boost.JSON escapes control characters and quotes but passes bytes through: a message
    // quoting client input (a percent-decoded id) is made valid UTF-8 first, so the body is
    // always valid JSON.
    boost::json::object inner;
    inner["type"] = boost::json::string(type);
    inner["message"] = boost::json::string(core::sanitize_utf8(message));
    boost::json::object outer;
    outer["error"] = std::move(inner);
    return json(status, boost::json::serialize(outer));
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string decoded;
    decoded.reserve(text.size());
    for (std::size_t char_idx = 0; char_idx < text.size(); ++char_idx) {
        const char c = text[char_idx];
        if (c != '%') {
            decoded.push_back(c);
            continue;
        }
        if (char_idx + 2 >= text.size()) {
            return std::nullopt;
        }
        const int high = hex_value(text[char_idx + 1]);
        const int low = hex_value(text[char_idx + 2]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        decoded.push_back(static_cast<char>(high * 16 + low));
        char_idx += 2;
    }
    return decoded;
}

bool is_valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) {
        return false;
    }
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
               c == '-';
    });
}

std::string generate_request_id() {
    // Per-thread generator: no lock on the request path; ids need uniqueness, not secrecy.
    thread_local std::mt19937_64 generator{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::uint64_t bits = generator();
    std::string id(16, '0');
    for (char& c : id) {
        c = kHex[bits & 0xF];
        bits >>= 4;
    }
    return id;
}

}  // namespace ragd::http
