// Framing follows RFC 9112 section 6.3: no body for HEAD, 1xx, 204 and 304; chunked when it is
// the final transfer coding; then Content-Length; otherwise the body ends when the server
// closes. The head is buffered (it is small) and parsed once; the body is counted, not kept.
#include "loadgen/response_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "core/text.hpp"

namespace ragd::loadgen {

namespace {

constexpr std::string_view kSseData = "data:";

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// Calls fn(token) for each comma-separated, trimmed, non-empty token.
template <class Fn>
void for_each_token(std::string_view list, Fn fn) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto token = core::trim_ows(list.substr(0, comma));
        if (!token.empty()) {
            fn(token);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
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

void ResponseParser::reset(bool head_request) {
    state_ = State::kHead;
    head_.clear();
    error_.clear();
    head_request_ = head_request;
    status_ = 0;
    keep_alive_ = true;
    http10_ = false;
    event_stream_ = false;
    saw_sse_data_ = false;
    has_length_ = false;
    chunked_ = false;
    other_encoding_ = false;
    framing_ = Framing::kNone;
    content_length_ = 0;
    remaining_ = 0;
    body_bytes_ = 0;
    chunk_state_ = ChunkState::kSize;
    chunk_size_digits_ = false;
    sse_match_ = 0;
}

void ResponseParser::fail(std::string reason) {
    state_ = State::kError;
    error_ = std::move(reason);
}

std::size_t ResponseParser::feed(std::string_view data) {
    std::size_t used = 0;
    while (used < data.size() && (state_ == State::kHead || state_ == State::kBody)) {
        const std::string_view rest = data.substr(used);
        if (state_ == State::kHead) {
            used += feed_head(rest);
            continue;
        }
        switch (framing_) {
            case Framing::kLength: {
                const auto take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
                on_body(rest.substr(0, take));
                remaining_ -= take;
                used += take;
                if (remaining_ == 0) {
                    state_ = State::kComplete;
                }
                break;
            }
            case Framing::kChunked:
                used += feed_chunked(rest);
                break;
            case Framing::kUntilClose:
                on_body(rest);
                used += rest.size();
                break;
            case Framing::kNone:
                state_ = State::kComplete;
                break;
        }
    }
    return used;
}

void ResponseParser::finish_on_eof() {
    if (state_ == State::kBody && framing_ == Framing::kUntilClose) {
        state_ = State::kComplete;
    } else if (state_ == State::kHead || state_ == State::kBody) {
        fail(state_ == State::kHead ? "connection closed before the end of the response head"
                                    : "connection closed before the end of the response body");
    }
}

std::size_t ResponseParser::feed_head(std::string_view data) {
    const std::size_t old_size = head_.size();
    // Search only where the terminator can newly appear: the last 3 old bytes plus `data`.
    const std::size_t search_from = old_size >= 3 ? old_size - 3 : 0;
    head_.append(data);
    const auto end = head_.find("\r\n\r\n", search_from);
    if (end == std::string::npos) {
        if (head_.size() > kMaxHeadBytes) {
            fail("response head larger than " + std::to_string(kMaxHeadBytes) + " bytes");
        }
        return data.size();
    }
    const std::size_t head_size = end + 4;
    const std::size_t used = head_size - old_size;
    head_.resize(head_size);
    if (head_size > kMaxHeadBytes) {
        fail("response head larger than " + std::to_string(kMaxHeadBytes) + " bytes");
        return used;
    }
    if (!parse_head()) {
        return used;
    }
    if (status_ >= 100 && status_ < 200 && status_ != 101) {
        // An interim response (100 Continue, 103 Early Hints): the final one follows.
        const bool head_request = head_request_;
        reset(head_request);
        return used;
    }
    if (status_ == 101) {
        fail("101 Switching Protocols is not supported");
        return used;
    }
    if (head_request_ || status_ == 204 || status_ == 304) {
        framing_ = Framing::kNone;
    } else if (chunked_) {
        framing_ = Framing::kChunked;
    } else if (has_length_ && !other_encoding_) {
        framing_ = content_length_ == 0 ? Framing::kNone : Framing::kLength;
        remaining_ = content_length_;
    } else {
        // No length, or a transfer coding other than chunked (which overrides Content-Length).
        framing_ = Framing::kUntilClose;
    }
    if (framing_ == Framing::kUntilClose) {
        keep_alive_ = false;
    }
    state_ = framing_ == Framing::kNone ? State::kComplete : State::kBody;
    return used;
}

bool ResponseParser::parse_head() {
    std::string_view head(head_);
    head.remove_suffix(2);  // the blank line; every remaining line ends in CRLF
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    // "HTTP/1.x SSS[ reason]"
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
        (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        fail("malformed status line '" + std::string(status_line.substr(0, 80)) + "'");
        return false;
    }
    http10_ = status_line[7] == '0';
    keep_alive_ = !http10_;
    int code = 0;
    for (std::size_t idx = 9; idx < 12; ++idx) {
        const char c = status_line[idx];
        if (c < '0' || c > '9') {
            fail("malformed status code in '" + std::string(status_line.substr(0, 80)) + "'");
            return false;
        }
        code = code * 10 + (c - '0');
    }
    if (code < 100) {
        fail("status code " + std::to_string(code) + " is below 100");
        return false;
    }
    status_ = code;
    // Every line, the status line included, ends in CRLF once the blank line is removed.
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
        const auto next = head.find("\r\n", pos);
        if (!parse_header_line(head.substr(pos, next - pos))) {
            return false;
        }
        pos = next + 2;
    }
    return true;
}

bool ResponseParser::parse_header_line(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        fail("malformed header line '" + std::string(line.substr(0, 80)) + "'");
        return false;
    }
    const std::string_view name = line.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) {
        fail("whitespace in header name '" + std::string(name.substr(0, 80)) + "'");
        return false;
    }
    const std::string_view value = core::trim_ows(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
        std::uint64_t length = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
            fail("invalid Content-Length '" + std::string(value.substr(0, 80)) + "'");
            return false;
        }
        if (has_length_ && length != content_length_) {
            fail("conflicting Content-Length headers");
            return false;
        }
        has_length_ = true;
        content_length_ = length;
    } else if (iequals(name, "transfer-encoding")) {
        // Only the final coding decides the framing: "gzip, chunked" is chunked.
        bool last_is_chunked = false;
        for_each_token(
            value, [&](std::string_view token) { last_is_chunked = iequals(token, "chunked"); });
        chunked_ = last_is_chunked;
        other_encoding_ = !last_is_chunked;
    } else if (iequals(name, "connection")) {
        for_each_token(value, [&](std::string_view token) {
            if (iequals(token, "close")) {
                keep_alive_ = false;
            } else if (iequals(token, "keep-alive") && http10_) {
                keep_alive_ = true;
            }
        });
    } else if (iequals(name, "content-type")) {
        event_stream_ = istarts_with(value, "text/event-stream");
    }
    return true;
}

std::size_t ResponseParser::feed_chunked(std::string_view data) {
    std::size_t pos = 0;
    while (pos < data.size() && state_ == State::kBody) {
        const char c = data[pos];
        switch (chunk_state_) {
            case ChunkState::kSize: {
                const int digit = hex_value(c);
                if (digit >= 0) {
                    if (remaining_ > (UINT64_MAX >> 4)) {
                        fail("chunk size overflows 64 bits");
                        return pos;
                    }
                    remaining_ = remaining_ * 16 + static_cast<unsigned>(digit);
                    chunk_size_digits_ = true;
                } else if (chunk_size_digits_ && (c == ';' || c == ' ' || c == '\t')) {
                    chunk_state_ = ChunkState::kExtension;
                } else if (chunk_size_digits_ && c == '\r') {
                    chunk_state_ = ChunkState::kSizeLf;
                } else {
                    fail("malformed chunk size line");
                    return pos;
                }
                ++pos;
                break;
            }
            case ChunkState::kExtension:
                if (c == '\r') {
                    chunk_state_ = ChunkState::kSizeLf;
                }
                ++pos;
                break;
            case ChunkState::kSizeLf:
                if (c != '\n') {
                    fail("chunk size line not ended by CRLF");
                    return pos;
                }
                chunk_state_ = remaining_ == 0 ? ChunkState::kTrailerLineStart : ChunkState::kData;
                ++pos;
                break;
            case ChunkState::kData: {
                const auto take = static_cast<std::size_t>(
                    std::min<std::uint64_t>(remaining_, data.size() - pos));
                on_body(data.substr(pos, take));
                remaining_ -= take;
                pos += take;
                if (remaining_ == 0) {
                    chunk_state_ = ChunkState::kDataCr;
                }
                break;
            }
            case ChunkState::kDataCr:
                if (c != '\r') {
                    fail("chunk data not followed by CRLF");
                    return pos;
                }
                chunk_state_ = ChunkState::kDataLf;
                ++pos;
                break;
            case ChunkState::kDataLf:
                if (c != '\n') {
                    fail("chunk data not followed by CRLF");
                    return pos;
                }
                chunk_state_ = ChunkState::kSize;
                chunk_size_digits_ = false;
                ++pos;
                break;
            case ChunkState::kTrailerLineStart:
                chunk_state_ = c == '\r' ? ChunkState::kTrailerEndLf : ChunkState::kTrailerLine;
                ++pos;
                break;
            case ChunkState::kTrailerLine:
                if (c == '\r') {
                    chunk_state_ = ChunkState::kTrailerLineLf;
                }
                ++pos;
                break;
            case ChunkState::kTrailerLineLf:
                if (c != '\n') {
                    fail("trailer line not ended by CRLF");
                    return pos;
                }
                chunk_state_ = ChunkState::kTrailerLineStart;
                ++pos;
                break;
            case ChunkState::kTrailerEndLf:
                if (c != '\n') {
                    fail("chunked body not ended by CRLF");
                    return pos;
                }
                state_ = State::kComplete;
                ++pos;
                break;
        }
    }
    return pos;
}

void ResponseParser::on_body(std::string_view bytes) {
    body_bytes_ += bytes.size();
    if (!event_stream_ || saw_sse_data_) {
        return;
    }
    // Look for "data:" at the start of a line; a line starts the body and follows CR or LF.
    for (const char c : bytes) {
        if (sse_match_ >= 0) {
            if (c == kSseData[static_cast<std::size_t>(sse_match_)]) {
                if (++sse_match_ == static_cast<int>(kSseData.size())) {
                    saw_sse_data_ = true;
                    return;
                }
                continue;
            }
            sse_match_ = -1;
        }
        if (c == '\n' || c == '\r') {
            sse_match_ = 0;
        }
    }
}

}  // namespace ragd::loadgen
