// Expected failures as values: every layer returns Result<T>; only http/ maps ErrorCode to a
// status (api/error_mapping), so no layer below it knows HTTP.
#pragma once

#include <boost/system/result.hpp>
#include <string>
#include <utility>

namespace ragd::core {

enum class ErrorCode {
    kInvalidArgument,  ///< bad input from the caller (names the field in detail)
    kNotFound,         ///< a document, route or file that does not exist
    kUnsupported,      ///< a format or operation ragd does not handle
    kTooLarge,         ///< a configured size limit was exceeded
    kUnavailable,      ///< a dependency is down or the server is draining
    kOverloaded,       ///< shed by admission control
    kTimeout,          ///< a deadline passed
    kIo,               ///< file system or network I/O failed
    kCorrupt,          ///< stored data failed validation
    kConflict,         ///< e.g. the data directory is locked by another process
    kInternal,         ///< a bug: should not happen
};

/// Stable lower-case name of a code, used as the JSON error "type".
const char* error_code_name(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string detail;  ///< human-readable; names the value and the reason

    Error() = default;
    Error(ErrorCode c, std::string d) : code(c), detail(std::move(d)) {}
};

/// Thrown by Result<T>::value() on an error; caught once at the edges.
class ErrorException : public std::exception {
public:
    explicit ErrorException(Error error) : error_(std::move(error)) {}
    const char* what() const noexcept override { return error_.detail.c_str(); }
    const Error& error() const { return error_; }

private:
    Error error_;
};

[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

/// Shorthand for returning an error: `return fail(ErrorCode::kNotFound, "document 'x'");`
inline Error fail(ErrorCode code, std::string detail) { return Error{code, std::move(detail)}; }

}  // namespace ragd::core
