#include "core/error.hpp"

namespace ragd::core {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return "invalid_request";
        case ErrorCode::kNotFound: return "not_found";
        case ErrorCode::kUnsupported: return "unsupported";
        case ErrorCode::kTooLarge: return "too_large";
        case ErrorCode::kUnavailable: return "unavailable";
        case ErrorCode::kOverloaded: return "overloaded";
        case ErrorCode::kTimeout: return "timeout";
        case ErrorCode::kIo: return "io_error";
        case ErrorCode::kCorrupt: return "corrupt";
        case ErrorCode::kConflict: return "conflict";
        case ErrorCode::kInternal: return "internal";
    }
    return "internal";
}

void throw_exception_from_error(const Error& error, const boost::source_location& /*loc*/) {
    throw ErrorException(error);
}

}  // namespace ragd::core
