// The byte-level checks every parser shares: reject binary input, drop a BOM, turn CRLF/CR into
// LF and repair invalid UTF-8, while remembering how to map offsets back to the original bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::ingest {

/// From `text_pos` on (until the next shift), source offset = text offset + delta.
struct OffsetShift {
    std::uint64_t text_pos = 0;
    std::int64_t delta = 0;
};

/// Parser input after normalisation. Offsets into text() map back with to_source().
class NormalizedInput {
public:
    /// The normalised text (LF line ends, valid UTF-8, no BOM).
    std::string_view text() const { return owned_ ? std::string_view(storage_) : original_; }

    /// Byte offset in the original input of byte `text_pos` of text(); clamped to the input size.
    std::uint64_t to_source(std::uint64_t text_pos) const;

    /// Size of the original input in bytes.
    std::uint64_t source_size() const { return original_.size(); }

    /// Offset shifts in text order; empty when text() is the original bytes unchanged.
    const std::vector<OffsetShift>& shifts() const { return shifts_; }

private:
    friend core::Result<NormalizedInput> normalize_input(std::string_view bytes);

    std::string_view original_;  // the caller's bytes; they outlive parsing
    std::string storage_;        // the rewritten text when any normalisation was needed
    bool owned_ = false;
    std::vector<OffsetShift> shifts_;
};

/// Returns kInvalidArgument ("binary content") when `bytes` contain a NUL byte. The result
/// views `bytes` when no change is needed, so `bytes` must outlive it.
core::Result<NormalizedInput> normalize_input(std::string_view bytes);

}  // namespace ragd::ingest
