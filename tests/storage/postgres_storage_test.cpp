// What only the PostgreSQL system of record has: a shared server, so replicas sharing one change
// sequence, a tailer racing concurrent writers, a bounded connection pool, connection errors
// without the password, healing after a server restart, schema creation racing between replicas,
// and text PostgreSQL cannot store. The Storage contract it shares with SQLite is
// storage_contract_test.cpp. One server per test binary, one fresh database per test.
#include "storage/postgres_storage.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "postgres_server.hpp"
#include "storage/storage.hpp"
#include "storage_test_support.hpp"

namespace ragd::storage {
namespace {

using testing::make_chunks;
using testing::make_doc;
using testing::PostgresServer;

class PostgresStorageTest : public ::testing::Test {
protected:
    void SetUp() override {
        testing::fresh_database(server_, dbname_);
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        auto opened = open_postgres_storage(options_for_test());
        ASSERT_TRUE(opened) << opened.error().detail;
        storage_ = std::move(*opened);
    }

    PostgresOptions options_for_test() {
        PostgresOptions options;
        options.conninfo = server_->conninfo(dbname_);
        options.now_ms = [this] {
            return clock_ms_.load();
        };
        return options;
    }

    std::string admin(const std::string& sql) {
        return testing::admin_exec(*server_, dbname_, sql);
    }

    PostgresServer* server_ = nullptr;
    std::string dbname_;
    std::atomic<std::int64_t> clock_ms_{1'000};
    std::unique_ptr<Storage> storage_;
};

TEST_F(PostgresStorageTest, ForEachChunkStreamsPagesOfOneSnapshot) {
    // 2,500 chunks span three pages of the keyset scan; a document written during the scan is
    // not seen by it (one snapshot), but is there afterwards.
    for (int doc = 0; doc < 5; ++doc) {
        ASSERT_TRUE(storage_->upsert_document(
            make_doc("d" + std::to_string(doc), "h"), make_chunks(500, 2), "m"));
    }
    std::vector<std::int64_t> seen;
    bool wrote = false;
    auto r = storage_->for_each_chunk("m", [&](const IndexableChunk& chunk) {
        if (!wrote) {
            wrote = true;
            auto up = storage_->upsert_document(make_doc("late", "h"), make_chunks(3, 2), "m");
            EXPECT_TRUE(up) << up.error().detail;
        }
        seen.push_back(chunk.chunk.id);
    });
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(seen.size(), 2'500U);
    EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end(), std::greater_equal<>()) == seen.end());
    std::size_t after = 0;
    ASSERT_TRUE(storage_->for_each_chunk("m", [&](const IndexableChunk&) { ++after; }));
    EXPECT_EQ(after, 2'503U);
}

TEST_F(PostgresStorageTest, SchemaCreationIsIdempotentAndRaceFree) {
    // Opening again finds the schema; four replicas starting together on a fresh database take
    // turns on the advisory lock instead of failing on CREATE TABLE.
    ASSERT_TRUE(open_postgres_storage(options_for_test()));
    ASSERT_EQ(admin("CREATE DATABASE " + dbname_ + "_race"), "");
    PostgresOptions options = options_for_test();
    options.conninfo = server_->conninfo(dbname_ + "_race");
    std::vector<std::thread> replicas;
    std::atomic<int> opened{0};
    for (int idx = 0; idx < 4; ++idx) {
        replicas.emplace_back([&] {
            auto storage = open_postgres_storage(options);
            if (storage) {
                ++opened;
            } else {
                ADD_FAILURE() << storage.error().detail;
            }
        });
    }
    for (auto& replica : replicas) {
        replica.join();
    }
    EXPECT_EQ(opened.load(), 4);
}

// Derived indexes record which database they came from (pipeline::Engine, storage.id): the
// identity is created with the schema, so it differs between databases of one server (staying
// the same across opens is the contract's IdentityIsStableAcrossOpens).
TEST_F(PostgresStorageTest, IdentityNamesTheDatabase) {
    auto first = storage_->identity();
    ASSERT_TRUE(first) << first.error().detail;
    EXPECT_EQ(first->rfind("postgres:", 0), 0U) << *first;
    EXPECT_GT(first->size(), std::string("postgres:").size() + 30) << *first;

    ASSERT_EQ(admin("CREATE DATABASE " + dbname_ + "_other"), "");
    PostgresOptions options = options_for_test();
    options.conninfo = server_->conninfo(dbname_ + "_other");
    auto other = open_postgres_storage(options);
    ASSERT_TRUE(other) << other.error().detail;
    EXPECT_NE(*(*other)->identity(), *first);
}

TEST_F(PostgresStorageTest, NewerSchemaIsUnsupported) {
    ASSERT_EQ(admin("UPDATE ragd_meta SET value = '99' WHERE key = 'schema_version'"), "");
    auto storage = open_postgres_storage(options_for_test());
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code, core::ErrorCode::kUnsupported) << storage.error().detail;
    EXPECT_NE(storage.error().detail.find("99"), std::string::npos) << storage.error().detail;
}

TEST_F(PostgresStorageTest, UnreachableServerIsIoNamingTheTargetButNotThePassword) {
    // Port 1: privileged, nothing listens there, so the connection is refused at once.
    const std::vector<std::string> conninfos = {
        "host=127.0.0.1 port=1 user=ragd password=s3cret-pw dbname=nowhere connect_timeout=2",
        "postgresql://ragd:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2"};
    for (const std::string& conninfo : conninfos) {
        PostgresOptions options;
        options.conninfo = conninfo;
        auto storage = open_postgres_storage(options);
        ASSERT_FALSE(storage);
        const core::Error& error = storage.error();
        EXPECT_EQ(error.code, core::ErrorCode::kIo) << error.detail;
        EXPECT_NE(error.detail.find("127.0.0.1"), std::string::npos) << error.detail;
        EXPECT_NE(error.detail.find("port=1"), std::string::npos) << error.detail;
        EXPECT_NE(error.detail.find("dbname=nowhere"), std::string::npos) << error.detail;
        EXPECT_NE(error.detail.find("refused"), std::string::npos) << error.detail;
        EXPECT_EQ(error.detail.find("s3cret-pw"), std::string::npos) << error.detail;
    }

    PostgresOptions bad;
    bad.conninfo = "postgresql://ragd:s3cret-pw@[::1/x";
    auto unparsable = open_postgres_storage(bad);
    ASSERT_FALSE(unparsable);
    EXPECT_EQ(unparsable.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(unparsable.error().detail.find("s3cret-pw"), std::string::npos);

    // A database that does not exist on a live server is the same kind of failure.
    PostgresOptions missing = options_for_test();
    missing.conninfo = server_->conninfo("no_such_db") + " password=s3cret-pw";
    auto no_db = open_postgres_storage(missing);
    ASSERT_FALSE(no_db);
    EXPECT_EQ(no_db.error().code, core::ErrorCode::kIo);
    EXPECT_NE(no_db.error().detail.find("no_such_db"), std::string::npos) << no_db.error().detail;
    EXPECT_EQ(no_db.error().detail.find("s3cret-pw"), std::string::npos) << no_db.error().detail;
}

TEST_F(PostgresStorageTest, TwoReplicasShareDocumentsAndOneChangeSequence) {
    auto other = open_postgres_storage(options_for_test());
    ASSERT_TRUE(other) << other.error().detail;
    Storage& replica = **other;
    auto a = storage_->upsert_document(make_doc("a", "h"), make_chunks(2, 3), "m");
    auto b = replica.upsert_document(make_doc("b", "h"), make_chunks(2, 3), "m");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->seq, 1);
    EXPECT_EQ(b->seq, 2);
    EXPECT_GT(b->chunk_ids[0], a->chunk_ids[1]);  // one id sequence too
    EXPECT_TRUE(replica.get_document("a")->has_value());
    auto unchanged = replica.upsert_document(make_doc("a", "h"), make_chunks(2, 3), "m");
    ASSERT_TRUE(unchanged);
    EXPECT_EQ(unchanged->status, UpsertStatus::kUnchanged);
    ASSERT_TRUE(*replica.delete_document("a"));
    for (Storage* storage : {storage_.get(), &replica}) {
        auto changes = storage->changes_since(0, 10);
        ASSERT_TRUE(changes);
        ASSERT_EQ(changes->size(), 3U);
        EXPECT_EQ((*changes)[2].kind, ChangeKind::kDelete);
        EXPECT_EQ((*changes)[2].removed_chunk_ids, a->chunk_ids);
        EXPECT_EQ(*storage->last_seq(), 3);
        EXPECT_FALSE(storage->get_document("a")->has_value());
    }
}

// The reason for the change-seq lock: writers on several connections of two replicas commit in
// some order, and a tailer that keeps advancing its cursor to the largest seq it has seen must
// still see every change exactly once.
TEST_F(PostgresStorageTest, ConcurrentWritersAndATailerSeeEveryChangeOnce) {
    auto second = open_postgres_storage(options_for_test());
    ASSERT_TRUE(second) << second.error().detail;
    auto tail_storage = open_postgres_storage(options_for_test());
    ASSERT_TRUE(tail_storage) << tail_storage.error().detail;
    Storage* replicas[] = {storage_.get(), second->get()};

    constexpr int kWriters = 6;
    constexpr int kWritesEach = 40;
    std::mutex mutex;
    std::set<std::int64_t> written_seqs;
    std::atomic<int> writers_done{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
            Storage& storage = *replicas[w % 2];
            // Counted as done however write() ends (an ASSERT returns early), so the tailer stops.
            auto write = [&](int idx) {
                // Each writer replaces a few of its own documents (and deletes now and then),
                // and every writer also hits one shared document.
                const std::string id =
                    idx % 5 == 4 ? "shared"
                                 : "w" + std::to_string(w) + "-" + std::to_string(idx % 3);
                std::int64_t seq = 0;
                if (idx % 7 == 6) {
                    // delete_document returns no seq; the tailer's check covers its change.
                    auto deleted = storage.delete_document(id);
                    ASSERT_TRUE(deleted) << deleted.error().detail;
                } else {
                    auto up = storage.upsert_document(
                        make_doc(id, "h" + std::to_string(w) + "-" + std::to_string(idx)),
                        make_chunks(1 + static_cast<std::size_t>(idx % 4), 4),
                        "m");
                    ASSERT_TRUE(up) << up.error().detail;
                    seq = up->seq;
                }
                if (seq != 0) {
                    std::lock_guard lock(mutex);
                    EXPECT_TRUE(written_seqs.insert(seq).second) << "seq " << seq << " twice";
                }
            };
            for (int idx = 0; idx < kWritesEach; ++idx) {
                write(idx);
            }
            ++writers_done;
        });
    }
    std::vector<std::int64_t> tailed;
    std::thread tailer([&] {
        std::int64_t cursor = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            const bool last_round = writers_done.load() == kWriters;
            auto page = tail_storage.value()->changes_since(cursor, 3);
            ASSERT_TRUE(page) << page.error().detail;
            for (const Change& change : *page) {
                ASSERT_GT(change.seq, cursor);
                tailed.push_back(change.seq);
                cursor = change.seq;
            }
            if (page->empty() && last_round) {
                return;
            }
        }
        ADD_FAILURE() << "the tailer was still reading after 60 s";
    });
    for (auto& writer : writers) {
        writer.join();
    }
    tailer.join();

    auto all = storage_->changes_since(0, 100'000);
    ASSERT_TRUE(all);
    std::vector<std::int64_t> logged;
    for (const Change& change : *all) {
        logged.push_back(change.seq);
    }
    EXPECT_EQ(tailed, logged);  // every change, once, in order
    ASSERT_FALSE(logged.empty());
    EXPECT_EQ(logged.back(), static_cast<std::int64_t>(logged.size()));  // no gaps either
    for (const std::int64_t seq : written_seqs) {
        EXPECT_TRUE(std::binary_search(logged.begin(), logged.end(), seq)) << seq;
    }
    auto problems = storage_->verify_integrity(true);
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty()) << (*problems)[0];
}

TEST_F(PostgresStorageTest, APoolOfOneServesManyThreads) {
    PostgresOptions options = options_for_test();
    options.max_connections = 1;
    auto opened = open_postgres_storage(options);
    ASSERT_TRUE(opened);
    Storage& storage = **opened;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int idx = 0; idx < 10; ++idx) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(idx);
                EXPECT_TRUE(storage.upsert_document(make_doc(id, "h"), make_chunks(2, 2), "m"));
                EXPECT_TRUE(storage.get_document(id));
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(storage.stats()->documents, 40);
}

TEST_F(PostgresStorageTest, ServerRestartCostsAtMostOneFailedCall) {
    ASSERT_TRUE(storage_->upsert_document(make_doc("a", "h"), make_chunks(2, 2), "m"));
    ASSERT_TRUE(storage_->get_document("a"));  // a pooled connection is now idle
    ASSERT_TRUE(server_->restart()) << server_->error();
    int failed = 0;
    for (int call = 0; call < 5; ++call) {
        auto doc = storage_->get_document("a");
        if (!doc) {
            ++failed;
            EXPECT_EQ(doc.error().code, core::ErrorCode::kUnavailable) << doc.error().detail;
            continue;
        }
        EXPECT_TRUE(doc->has_value());
    }
    EXPECT_LE(failed, 1);
    auto up = storage_->upsert_document(make_doc("b", "h"), make_chunks(1, 2), "m");
    ASSERT_TRUE(up) << up.error().detail;
    EXPECT_EQ(up->seq, 2);

    // While the server is down, calls fail fast with kUnavailable; they heal when it is back.
    server_->stop();
    auto down = storage_->last_seq();
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, core::ErrorCode::kUnavailable) << down.error().detail;
    ASSERT_TRUE(server_->start()) << server_->error();
    auto back = storage_->last_seq();
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(*back, 2);
}

TEST_F(PostgresStorageTest, VerifyIntegrityFindsWhatTheServerCannotEnforce) {
    auto up = storage_->upsert_document(make_doc("a", "h"), make_chunks(2, 2), "m");
    ASSERT_TRUE(up);
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h"), make_chunks(2, 2), "m"));
    // A restore with triggers disabled skips the cascades, as SQLite without foreign_keys would.
    ASSERT_EQ(admin("SET session_replication_role = replica; "
                    "DELETE FROM ragd_documents WHERE id = 'a'; "
                    "UPDATE ragd_embeddings SET vector = '\\x010203'::bytea WHERE chunk_id = " +
                    std::to_string(up->chunk_ids[0])),
              "");
    auto quick = storage_->verify_integrity(false);
    ASSERT_TRUE(quick) << quick.error().detail;
    ASSERT_EQ(quick->size(), 2U);
    EXPECT_NE((*quick)[0].find("missing document 'a'"), std::string::npos) << (*quick)[0];
    auto full = storage_->verify_integrity(true);
    ASSERT_TRUE(full) << full.error().detail;
    ASSERT_EQ(full->size(), 3U);
    EXPECT_NE((*full)[2].find("neither an int8 nor a float32"), std::string::npos) << (*full)[2];

    // A sequence moved back would hand out ids that indexes still hold.
    ASSERT_EQ(admin("ALTER TABLE ragd_chunks ALTER COLUMN id RESTART WITH 1"), "");
    auto reset = storage_->verify_integrity(false);
    ASSERT_TRUE(reset);
    ASSERT_EQ(reset->size(), 3U);
    EXPECT_NE((*reset)[2].find("reuse ids"), std::string::npos) << (*reset)[2];
}

TEST_F(PostgresStorageTest, TextPostgresCannotStoreIsInvalidArgument) {
    // PostgreSQL text holds no NUL bytes and only valid UTF-8; SQLite stores both as given.
    auto chunks = make_chunks(1, 0);
    chunks[0].text = std::string("nul \0 byte", 10);
    auto nul = storage_->upsert_document(make_doc("a", "h"), chunks, "");
    ASSERT_FALSE(nul);
    EXPECT_EQ(nul.error().code, core::ErrorCode::kInvalidArgument) << nul.error().detail;
    auto bad_utf8 = storage_->upsert_document(make_doc("b\xff", "h"), make_chunks(1, 0), "");
    ASSERT_FALSE(bad_utf8);
    EXPECT_EQ(bad_utf8.error().code, core::ErrorCode::kInvalidArgument) << bad_utf8.error().detail;
    // Nothing was written, and the connection that saw the errors is usable again.
    auto stats = storage_->stats();
    ASSERT_TRUE(stats) << stats.error().detail;
    EXPECT_EQ(stats->documents, 0);
    EXPECT_EQ(stats->last_seq, 0);
}

// Manual throughput check (not run by ctest): 2,000 documents of 5 chunks with 512-dim
// embeddings. Run: postgres_storage_test --gtest_also_run_disabled_tests --gtest_filter=*Bulk*
TEST_F(PostgresStorageTest, DISABLED_BulkUpsertThroughput) {
    constexpr int kDocs = 2'000;
    auto chunks = make_chunks(5, 512);
    for (auto& chunk : chunks) {
        chunk.text.assign(1'200, 'x');
    }
    const auto start = std::chrono::steady_clock::now();
    for (int idx = 0; idx < kDocs; ++idx) {
        auto r =
            storage_->upsert_document(make_doc("doc-" + std::to_string(idx), "h"), chunks, "m");
        ASSERT_TRUE(r) << r.error().detail;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d docs in %.2f s = %.0f docs/s, %.1f MiB\n",
                kDocs,
                seconds,
                kDocs / seconds,
                static_cast<double>(storage_->stats()->bytes) / (1 << 20));
}

}  // namespace
}  // namespace ragd::storage
