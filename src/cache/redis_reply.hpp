// RESP replies as ragd reads them: hiredis' reply reader frames the bytes Redis sends, and this
// turns each reply into a RedisReply. Bytes from the network, so the reader is bounded (arrays of
// at most kMaxArrayElements, which hiredis 0.14 would otherwise allocate up front from a count
// the peer chooses; replies of at most max_reply_bytes, which it would otherwise buffer for as
// long as a bulk string's announced length) and fuzzed (tests/fuzz/fuzz_redis_reply.cpp). No
// I/O: RedisClient feeds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::cache {

/// One RESP reply. Error replies are not values: the reader turns them into Error.
struct RedisReply {
    enum class Type { kNil, kString, kStatus, kInteger, kArray };
    Type type = Type::kNil;
    std::string str;  ///< kString, kStatus
    std::int64_t integer = 0;
    std::vector<RedisReply> elements;  ///< kArray
};

/// Reads the replies of one connection, in order. Not thread-safe.
class RedisReplyReader {
public:
    /// Largest array accepted. ragd's commands get a handful of elements back.
    static constexpr std::size_t kMaxArrayElements = 4096;
    /// Default bound on the bytes buffered for one reply. ragd stores answers of tens of KB.
    static constexpr std::size_t kDefaultMaxReplyBytes = std::size_t{64} << 20U;

    /// Throws std::bad_alloc when hiredis cannot allocate its reader.
    explicit RedisReplyReader(std::size_t max_reply_bytes = kDefaultMaxReplyBytes);
    ~RedisReplyReader();
    RedisReplyReader(const RedisReplyReader&) = delete;
    RedisReplyReader& operator=(const RedisReplyReader&) = delete;

    /// Appends bytes read from the connection.
    void feed(std::string_view bytes);

    /// The next complete reply to `command` (named in error messages), or nullopt while more
    /// bytes are needed. Errors: kIo when Redis replied with an error (anywhere in the reply; the
    /// connection stays usable), kUnavailable when the bytes are not RESP or break a limit (an
    /// array over kMaxArrayElements, more than max_reply_bytes buffered without a complete
    /// reply; the reader, and so the connection, cannot be used any more).
    core::Result<std::optional<RedisReply>> next(std::string_view command);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ragd::cache
