// Input normalisation: the common case (LF, valid UTF-8) is detected with two scans and costs no
// copy; only inputs that need rewriting pay for building a new string and a shift table.
#include "ingest/normalize.hpp"

#include <algorithm>
#include <cstring>

#include "core/utf8.hpp"

namespace ragd::ingest {

std::uint64_t NormalizedInput::to_source(std::uint64_t text_pos) const {
    std::int64_t delta = 0;
    auto it = std::upper_bound(
        shifts_.begin(), shifts_.end(), text_pos, [](std::uint64_t pos, const OffsetShift& shift) {
            return pos < shift.text_pos;
        });
    if (it != shifts_.begin()) {
        delta = std::prev(it)->delta;
    }
    const std::int64_t source = static_cast<std::int64_t>(text_pos) + delta;
    if (source < 0) {
        return 0;
    }
    return std::min<std::uint64_t>(static_cast<std::uint64_t>(source), original_.size());
}

core::Result<NormalizedInput> normalize_input(std::string_view bytes) {
    if (const void* nul = std::memchr(bytes.data(), '\0', bytes.size()); nul != nullptr) {
        const auto offset = static_cast<const char*>(nul) - bytes.data();
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "binary content: NUL byte at offset " + std::to_string(offset));
    }
    NormalizedInput input;
    input.original_ = bytes;
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    const bool has_bom = bytes.substr(0, kBom.size()) == kBom;
    const bool has_cr = std::memchr(bytes.data(), '\r', bytes.size()) != nullptr;
    if (!has_bom && !has_cr && core::is_valid_utf8(bytes)) {
        return input;
    }

    input.owned_ = true;
    std::string& out = input.storage_;
    out.reserve(bytes.size());
    std::int64_t delta = 0;
    auto shift = [&](std::int64_t change) {
        delta += change;
        input.shifts_.push_back({out.size(), delta});
    };
    std::size_t pos = 0;
    if (has_bom) {
        pos = kBom.size();
        shift(static_cast<std::int64_t>(kBom.size()));
    }
    while (pos < bytes.size()) {
        const auto byte = static_cast<unsigned char>(bytes[pos]);
        if (byte == '\r') {
            out.push_back('\n');
            if (pos + 1 < bytes.size() && bytes[pos + 1] == '\n') {
                pos += 2;
                shift(1);
            } else {
                ++pos;
            }
        } else if (byte < 0x80) {
            out.push_back(static_cast<char>(byte));
            ++pos;
        } else {
            const std::string_view rest = bytes.substr(pos);
            const std::size_t length = core::utf8_sequence_length(rest);
            if (length != 0) {
                out.append(rest.data(), length);
                pos += length;
            } else {
                const std::size_t bad = core::utf8_invalid_prefix_length(rest);
                out.append(core::kReplacementChar);
                pos += bad;
                shift(static_cast<std::int64_t>(bad) -
                      static_cast<std::int64_t>(core::kReplacementChar.size()));
            }
        }
    }
    return input;
}

}  // namespace ragd::ingest
