// Event stream framing: a message is only handed out once its length, both CRCs and every header
// have been checked, so a decoder above never sees half a message or a corrupted one.
#include "http/aws_event_stream.hpp"

#include <array>

namespace ragd::http {
namespace {

constexpr std::size_t kPreludeBytes = 12;  // total length, headers length, prelude CRC
constexpr std::size_t kTrailerBytes = 4;   // message CRC
constexpr std::size_t kMinMessageBytes = kPreludeBytes + kTrailerBytes;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t byte = 0; byte < 256; ++byte) {
        std::uint32_t crc = byte;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1U) != 0 ? 0xEDB88320U ^ (crc >> 1U) : crc >> 1U;
        }
        table[byte] = crc;
    }
    return table;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24U) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16U) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8U) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
}

std::uint16_t read_u16(std::string_view bytes, std::size_t at) {
    return static_cast<std::uint16_t>(
        (static_cast<unsigned>(static_cast<unsigned char>(bytes[at])) << 8U) |
        static_cast<unsigned>(static_cast<unsigned char>(bytes[at + 1])));
}

void append_u32(std::string& out, std::uint32_t value) {
    out.push_back(static_cast<char>((value >> 24U) & 0xFFU));
    out.push_back(static_cast<char>((value >> 16U) & 0xFFU));
    out.push_back(static_cast<char>((value >> 8U) & 0xFFU));
    out.push_back(static_cast<char>(value & 0xFFU));
}

/// Bytes of a fixed-size header value, by type; -1 for the two length-prefixed types, -2 for an
/// unknown type.
int fixed_value_bytes(unsigned char type) {
    switch (type) {
        case 0:  // bool true
        case 1:  // bool false
            return 0;
        case 2:  // byte
            return 1;
        case 3:  // short
            return 2;
        case 4:  // integer
            return 4;
        case 5:  // long
        case 8:  // timestamp
            return 8;
        case 9:  // uuid
            return 16;
        case 6:  // byte array
        case 7:  // string
            return -1;
        default:
            return -2;
    }
}

}  // namespace

std::uint32_t crc32(std::string_view bytes, std::uint32_t crc) {
    crc = ~crc;
    for (char c : bytes) {
        crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xFFU] ^ (crc >> 8U);
    }
    return ~crc;
}

std::string_view EventStreamMessage::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

void append_event_stream_message(std::string& out,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view payload) {
    std::string encoded_headers;
    for (const auto& [name, value] : headers) {
        encoded_headers.push_back(static_cast<char>(name.size()));
        encoded_headers += name;
        encoded_headers.push_back(7);  // string
        encoded_headers.push_back(static_cast<char>((value.size() >> 8U) & 0xFFU));
        encoded_headers.push_back(static_cast<char>(value.size() & 0xFFU));
        encoded_headers += value;
    }
    const std::size_t start = out.size();
    append_u32(
        out,
        static_cast<std::uint32_t>(kMinMessageBytes + encoded_headers.size() + payload.size()));
    append_u32(out, static_cast<std::uint32_t>(encoded_headers.size()));
    append_u32(out, crc32(std::string_view(out).substr(start, 8)));
    out += encoded_headers;
    out += payload;
    append_u32(out, crc32(std::string_view(out).substr(start)));
}

EventStreamParser::EventStreamParser(std::size_t max_message_bytes)
    : max_message_bytes_(max_message_bytes) {}

void EventStreamParser::fail(std::string why) {
    failed_ = true;
    error_ = std::move(why);
    held_.clear();
    held_.shrink_to_fit();
}

void EventStreamParser::feed(std::string_view bytes, std::vector<EventStreamMessage>& out) {
    while (!failed_ && !bytes.empty()) {
        // Whole messages straight from `bytes` when nothing is held (the common case: no copy).
        std::string_view view;
        if (held_.empty() && bytes.size() >= kPreludeBytes) {
            view = bytes;
        } else {
            const std::size_t want =
                held_.size() < kPreludeBytes ? kPreludeBytes : read_u32(held_, 0);
            const std::size_t take = std::min(bytes.size(), want - held_.size());
            held_.append(bytes.substr(0, take));
            bytes.remove_prefix(take);
            if (held_.size() < kPreludeBytes) {
                return;
            }
            view = held_;
        }
        const std::uint32_t total = read_u32(view, 0);
        const std::uint32_t headers_length = read_u32(view, 4);
        if (crc32(view.substr(0, 8)) != read_u32(view, 8)) {
            fail("event stream prelude checksum mismatch");
            return;
        }
        if (total < kMinMessageBytes || headers_length > total - kMinMessageBytes) {
            fail("event stream message length " + std::to_string(total) + " is invalid");
            return;
        }
        if (total > max_message_bytes_) {
            fail("event stream message of " + std::to_string(total) + " bytes is over the " +
                 std::to_string(max_message_bytes_) + "-byte limit");
            return;
        }
        if (view.size() < total) {
            if (view.data() == bytes.data()) {  // start holding this message
                held_.assign(bytes);
                bytes = {};
            }
            continue;  // the held path takes what is missing (or waits for more)
        }
        EventStreamMessage message;
        if (!decode(view.substr(0, total), message)) {
            return;
        }
        out.push_back(std::move(message));
        if (view.data() == bytes.data()) {
            bytes.remove_prefix(total);
        } else {
            held_.clear();
        }
    }
}

bool EventStreamParser::decode(std::string_view bytes, EventStreamMessage& message) {
    const std::size_t total = bytes.size();
    if (crc32(bytes.substr(0, total - kTrailerBytes)) != read_u32(bytes, total - kTrailerBytes)) {
        fail("event stream message checksum mismatch");
        return false;
    }
    const std::size_t headers_end = kPreludeBytes + read_u32(bytes, 4);
    std::size_t at = kPreludeBytes;
    while (at < headers_end) {
        const std::size_t name_length = static_cast<unsigned char>(bytes[at]);
        if (name_length == 0 || at + 1 + name_length + 1 > headers_end) {
            fail("event stream header name is malformed");
            return false;
        }
        std::string name(bytes.substr(at + 1, name_length));
        at += 1 + name_length;
        const auto type = static_cast<unsigned char>(bytes[at]);
        ++at;
        const int fixed = fixed_value_bytes(type);
        if (fixed == -2) {
            fail("event stream header '" + name + "' has unknown type " + std::to_string(type));
            return false;
        }
        std::size_t value_length = static_cast<std::size_t>(fixed);
        if (fixed == -1) {
            if (at + 2 > headers_end) {
                fail("event stream header '" + name + "' is cut short");
                return false;
            }
            value_length = read_u16(bytes, at);
            at += 2;
        }
        if (at + value_length > headers_end) {
            fail("event stream header '" + name + "' is cut short");
            return false;
        }
        if (type == 7) {
            message.headers.emplace_back(std::move(name),
                                         std::string(bytes.substr(at, value_length)));
        }
        at += value_length;
    }
    message.payload.assign(bytes.substr(headers_end, total - kTrailerBytes - headers_end));
    return true;
}

}  // namespace ragd::http
