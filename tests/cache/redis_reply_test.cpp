#include "cache/redis_reply.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::cache {
namespace {

using Type = RedisReply::Type;

/// Feeds `bytes` whole or one byte at a time and returns every reply (or the first error).
std::vector<core::Result<RedisReply>> read_all(std::string_view bytes, bool bytewise) {
    RedisReplyReader reader;
    std::vector<core::Result<RedisReply>> out;
    auto drain = [&] {
        for (;;) {
            auto next = reader.next("TEST");
            if (!next) {
                out.emplace_back(next.error());
                if (next.error().code == core::ErrorCode::kUnavailable) {
                    return false;  // the reader is done
                }
                continue;  // an error reply: the next one follows
            }
            if (!*next) {
                return true;
            }
            out.emplace_back(std::move(**next));
        }
    };
    if (bytewise) {
        for (const char c : bytes) {
            reader.feed(std::string_view(&c, 1));
            if (!drain()) {
                break;
            }
        }
    } else {
        reader.feed(bytes);
        drain();
    }
    return out;
}

TEST(RedisReplyReader, ReadsEveryTypeWholeOrSplit) {
    const std::string bytes =
        "+OK\r\n:-42\r\n$5\r\nab\r\nc\r\n$-1\r\n*3\r\n$1\r\nx\r\n*1\r\n:7\r\n*-1\r\n*0\r\n";
    for (const bool bytewise : {false, true}) {
        SCOPED_TRACE(bytewise ? "byte by byte" : "whole");
        const auto replies = read_all(bytes, bytewise);
        ASSERT_EQ(replies.size(), 6u);
        for (const auto& reply : replies) {
            ASSERT_TRUE(reply) << reply.error().detail;
        }
        EXPECT_EQ(replies[0]->type, Type::kStatus);
        EXPECT_EQ(replies[0]->str, "OK");
        EXPECT_EQ(replies[1]->type, Type::kInteger);
        EXPECT_EQ(replies[1]->integer, -42);
        EXPECT_EQ(replies[2]->type, Type::kString);
        EXPECT_EQ(replies[2]->str, std::string("ab\r\nc"));  // binary-safe
        EXPECT_EQ(replies[3]->type, Type::kNil);
        ASSERT_EQ(replies[4]->type, Type::kArray);
        ASSERT_EQ(replies[4]->elements.size(), 3u);
        EXPECT_EQ(replies[4]->elements[0].str, "x");
        ASSERT_EQ(replies[4]->elements[1].elements.size(), 1u);
        EXPECT_EQ(replies[4]->elements[1].elements[0].integer, 7);
        EXPECT_EQ(replies[4]->elements[2].type, Type::kNil);
        EXPECT_EQ(replies[5]->type, Type::kArray);
        EXPECT_TRUE(replies[5]->elements.empty());
    }
}

TEST(RedisReplyReader, ErrorRepliesAreIoErrorsAndTheStreamGoesOn) {
    const auto replies =
        read_all("-ERR wrong type\r\n*2\r\n:1\r\n-NOSCRIPT missing\r\n:5\r\n", false);
    ASSERT_EQ(replies.size(), 3u);
    ASSERT_FALSE(replies[0]);
    EXPECT_EQ(replies[0].error().code, core::ErrorCode::kIo);
    EXPECT_NE(replies[0].error().detail.find("TEST"), std::string::npos);
    EXPECT_NE(replies[0].error().detail.find("ERR wrong type"), std::string::npos);
    ASSERT_FALSE(replies[1]);  // an error anywhere in an array
    EXPECT_NE(replies[1].error().detail.find("NOSCRIPT"), std::string::npos);
    ASSERT_TRUE(replies[2]);
    EXPECT_EQ(replies[2]->integer, 5);
}

TEST(RedisReplyReader, BytesThatAreNotRespStopTheReader) {
    const auto replies = read_all("HTTP/1.1 400 Bad Request\r\n", false);
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_FALSE(replies[0]);
    EXPECT_EQ(replies[0].error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(replies[0].error().detail.find("protocol error"), std::string::npos);
}

// BUG (fuzz_redis_reply): hiredis 0.14 allocates an array's element table as soon as it reads
// the count, so "*2000000000\r\n" from a broken or hostile peer made ragd allocate 16 GB before
// a single element arrived.
TEST(RedisReplyReader, RefusesArraysOverTheLimitBeforeAllocating) {
    const auto replies = read_all("*2000000000\r\n", false);
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_FALSE(replies[0]);
    EXPECT_EQ(replies[0].error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(replies[0].error().detail.find("2000000000"), std::string::npos)
        << replies[0].error().detail;

    // Nested arrays are bounded too; an array at the limit is read.
    EXPECT_FALSE(read_all("*1\r\n*4097\r\n", false).front());
    std::string at_limit = "*" + std::to_string(RedisReplyReader::kMaxArrayElements) + "\r\n";
    for (std::size_t idx = 0; idx < RedisReplyReader::kMaxArrayElements; ++idx) {
        at_limit += ":1\r\n";
    }
    const auto full = read_all(at_limit, false);
    ASSERT_EQ(full.size(), 1u);
    ASSERT_TRUE(full[0]) << full[0].error().detail;
    EXPECT_EQ(full[0]->elements.size(), RedisReplyReader::kMaxArrayElements);
}

TEST(RedisReplyReader, RefusesRepliesOverTheByteLimit) {
    // hiredis would buffer a bulk string for as long as its announced length.
    RedisReplyReader reader(64);
    reader.feed("$1000000\r\n");
    auto next = reader.next("GET");
    ASSERT_TRUE(next);
    EXPECT_FALSE(*next);  // 11 bytes so far: wait for more
    reader.feed(std::string(100, 'x'));
    next = reader.next("GET");
    ASSERT_FALSE(next);
    EXPECT_EQ(next.error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(next.error().detail.find("64 bytes"), std::string::npos) << next.error().detail;

    // The limit is per reply: many replies of a few bytes each, fed at once, are fine, and so
    // is an array whose elements add up to less than the limit.
    RedisReplyReader many(64);
    std::string pipelined;
    for (int idx = 0; idx < 100; ++idx) {
        pipelined += ":1\r\n";
    }
    many.feed(pipelined);
    for (int idx = 0; idx < 100; ++idx) {
        auto reply = many.next("INCR");
        ASSERT_TRUE(reply && *reply) << idx;
    }
    many.feed("*3\r\n$5\r\nabcde\r\n$5\r\nfghij\r\n$5\r\nklmno\r\n");
    auto array = many.next("EVAL");
    ASSERT_TRUE(array && *array);
    EXPECT_EQ((*array)->elements.size(), 3u);
}

}  // namespace
}  // namespace ragd::cache
