#include "cache/redis_reply.hpp"

#include <new>
#include <utility>

#include <hiredis/hiredis.h>

namespace ragd::cache {
namespace {

using core::ErrorCode;
using core::fail;

struct ReplyFree {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};

/// What the bounded array constructor learned, for the error message (hiredis only says "Out
/// of memory" when a constructor returns null).
struct Limits {
    long long refused_elements = -1;
};

/// hiredis' own reply constructors, with arrays bounded. hiredis 0.14 does not export its
/// default table, but a reader created without functions points at it.
redisReplyObjectFunctions make_bounded_functions();

redisReplyObjectFunctions& bounded_functions() {
    static redisReplyObjectFunctions functions = make_bounded_functions();
    return functions;
}

void* (*default_create_array)(const redisReadTask*, int) = nullptr;

void* create_bounded_array(const redisReadTask* task, int elements) {
    if (elements > 0 && static_cast<std::size_t>(elements) > RedisReplyReader::kMaxArrayElements) {
        if (task->privdata != nullptr) {
            static_cast<Limits*>(task->privdata)->refused_elements = elements;
        }
        return nullptr;
    }
    return default_create_array(task, elements);
}

redisReplyObjectFunctions make_bounded_functions() {
    redisReader* probe = redisReaderCreate();
    if (probe == nullptr || probe->fn == nullptr) {
        throw std::bad_alloc();
    }
    redisReplyObjectFunctions functions = *probe->fn;
    redisReaderFree(probe);
    default_create_array = functions.createArray;
    functions.createArray = create_bounded_array;
    return functions;
}

/// Error replies ("-ERR ...") become kIo errors, anywhere in the reply.
core::Result<RedisReply> convert(const redisReply& raw, std::string_view command) {
    RedisReply out;
    switch (raw.type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::kString;
            out.str.assign(raw.str, raw.len);
            return out;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::kStatus;
            out.str.assign(raw.str, raw.len);
            return out;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::kInteger;
            out.integer = raw.integer;
            return out;
        case REDIS_REPLY_NIL:
            out.type = RedisReply::Type::kNil;
            return out;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::kArray;
            out.elements.reserve(raw.elements);
            for (std::size_t element_idx = 0; element_idx < raw.elements; ++element_idx) {
                auto element = convert(*raw.element[element_idx], command);
                if (!element) {
                    return element.error();
                }
                out.elements.push_back(std::move(*element));
            }
            return out;
        case REDIS_REPLY_ERROR:
            return fail(ErrorCode::kIo,
                        "redis replied to " + std::string(command) +
                            " with an error: " + std::string(raw.str, raw.len));
        default:
            return fail(ErrorCode::kUnavailable,
                        "redis reply to " + std::string(command) + " has unknown type " +
                            std::to_string(raw.type));
    }
}

}  // namespace

struct RedisReplyReader::State {
    struct ReaderFree {
        void operator()(redisReader* reader) const { redisReaderFree(reader); }
    };
    std::unique_ptr<redisReader, ReaderFree> reader;
    Limits limits;
    std::size_t max_reply_bytes = 0;
    /// Bytes fed that belong to the reply being read (parsed into elements or still buffered).
    std::size_t reply_bytes = 0;
};

RedisReplyReader::RedisReplyReader(std::size_t max_reply_bytes)
    : state_(std::make_unique<State>()) {
    state_->max_reply_bytes = max_reply_bytes;
    state_->reader.reset(redisReaderCreateWithFunctions(&bounded_functions()));
    if (!state_->reader) {
        throw std::bad_alloc();
    }
    // Read tasks carry the reader's privdata (hiredis' redisReaderSetPrivdata macro casts through
    // int).
    state_->reader->privdata = &state_->limits;
}

RedisReplyReader::~RedisReplyReader() = default;

void RedisReplyReader::feed(std::string_view bytes) {
    state_->reply_bytes += bytes.size();
    // Fails only when the reader already failed (next() reports that) or cannot allocate.
    if (redisReaderFeed(state_->reader.get(), bytes.data(), bytes.size()) != REDIS_OK &&
        state_->reader->err == 0) {
        throw std::bad_alloc();
    }
}

core::Result<std::optional<RedisReply>> RedisReplyReader::next(std::string_view command) {
    void* raw = nullptr;
    if (redisReaderGetReply(state_->reader.get(), &raw) != REDIS_OK) {
        if (state_->limits.refused_elements >= 0) {
            return fail(ErrorCode::kUnavailable,
                        "reply to " + std::string(command) + " is an array of " +
                            std::to_string(state_->limits.refused_elements) +
                            " elements, more than the " + std::to_string(kMaxArrayElements) +
                            " ragd accepts");
        }
        return fail(
            ErrorCode::kUnavailable,
            "protocol error in reply to " + std::string(command) + ": " + state_->reader->errstr);
    }
    if (raw == nullptr) {
        if (state_->reply_bytes > state_->max_reply_bytes) {
            return fail(ErrorCode::kUnavailable,
                        "reply to " + std::string(command) + " is larger than the " +
                            std::to_string(state_->max_reply_bytes) + " bytes ragd accepts");
        }
        return std::optional<RedisReply>();
    }
    // What is still buffered belongs to the replies after this one.
    state_->reply_bytes = state_->reader->len - state_->reader->pos;
    const std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(raw));
    auto converted = convert(*reply, command);
    if (!converted) {
        return converted.error();
    }
    return std::optional<RedisReply>(std::move(*converted));
}

}  // namespace ragd::cache
