// Makes arbitrary bytes into AWS event stream framing a parser will look inside: each message's
// total length is clamped to what is left (at least 16), its headers length to what fits, and
// both CRCs are recomputed. Without this a fuzzer almost never gets past the prelude checksum,
// and the header and payload code would go unexplored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/aws_event_stream.hpp"

namespace ragd::fuzz {

inline void put_u32(std::string& bytes, std::size_t at, std::uint32_t value) {
    bytes[at] = static_cast<char>((value >> 24U) & 0xFFU);
    bytes[at + 1] = static_cast<char>((value >> 16U) & 0xFFU);
    bytes[at + 2] = static_cast<char>((value >> 8U) & 0xFFU);
    bytes[at + 3] = static_cast<char>(value & 0xFFU);
}

inline std::uint32_t get_u32(const std::string& bytes, std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24U) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16U) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8U) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
}

/// `input` with every whole message's lengths and CRCs made consistent; a tail shorter than a
/// message stays as it is (a stream cut short).
inline std::string fix_event_stream(std::string_view input) {
    std::string bytes(input);
    std::size_t at = 0;
    while (bytes.size() - at >= 16) {
        const std::size_t left = bytes.size() - at;
        std::size_t total = get_u32(bytes, at) % (left + 1);
        if (total < 16) {
            total = 16;
        }
        const std::uint32_t headers =
            get_u32(bytes, at + 4) % static_cast<std::uint32_t>(total - 15);
        put_u32(bytes, at, static_cast<std::uint32_t>(total));
        put_u32(bytes, at + 4, headers);
        put_u32(bytes, at + 8, http::crc32(std::string_view(bytes).substr(at, 8)));
        put_u32(bytes, at + total - 4, http::crc32(std::string_view(bytes).substr(at, total - 4)));
        at += total;
    }
    return bytes;
}

}  // namespace ragd::fuzz
