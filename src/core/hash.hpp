// Content hashing for change detection (re-ingesting an unchanged file is a no-op).
#pragma once

#include <string>
#include <string_view>

namespace ragd::core {

/// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace ragd::core
