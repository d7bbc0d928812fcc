// Behaviour of the built-in lexical embedder: shape, stability, and that similarity means
// something (shared stems and character n-grams bring texts closer).
#include "embed/lexical_embedder.hpp"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace ragd::embed {
namespace {

Vector embed_one(const Embedder& embedder,
                 std::string_view text,
                 EmbedKind kind = EmbedKind::kDocument) {
    auto vectors = embedder.embed(std::span(&text, 1), kind);
    EXPECT_TRUE(vectors.has_value());
    return vectors.value().at(0);
}

double dot(const Vector& a, const Vector& b) {
    double sum = 0;
    for (std::size_t dim = 0; dim < a.size(); ++dim) {
        sum += static_cast<double>(a[dim]) * b[dim];
    }
    return sum;
}

TEST(LexicalEmbedder, VectorsHaveConfiguredDimensionsAndUnitNorm) {
    for (std::size_t dims : {64u, 512u, 4096u}) {
        auto embedder = make_lexical_embedder(dims);
        EXPECT_EQ(embedder->dimensions(), dims);
        Vector vector = embed_one(*embedder, "Creating an index speeds up queries on large tables");
        ASSERT_EQ(vector.size(), dims);
        EXPECT_NEAR(dot(vector, vector), 1.0, 1e-5);
    }
}

/// FNV-1a over the vector's float bit patterns.
std::uint64_t bits_hash(const Vector& vector) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (float value : vector) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, &value, sizeof bits);
        for (int byte = 0; byte < 4; ++byte) {
            hash = (hash ^ ((bits >> (8 * byte)) & 0xff)) * 0x100000001b3ULL;
        }
    }
    return hash;
}

TEST(LexicalEmbedder, VectorsStayBitForBitTheSameUnderOneModelId) {
    // Stored embeddings and query embeddings meet only through the model id: if the features
    // or their arithmetic change, vectors already in a database no longer match new queries.
    // A change that moves these hashes must also change the model id (lexical-hash-v2...).
    auto embedder = make_lexical_embedder(512);
    ASSERT_EQ(embedder->model_id(), "lexical-hash-v1-512");
    const std::vector<std::pair<std::string_view, std::uint64_t>> golden = {
        {"Creating an index speeds up queries on large tables", 0x637192d7e077cb51ULL},
        {"max_wal_size bounds WAL growth between automatic checkpoints; café, 9.6, C++",
         0x77c51ebe4f05a58aULL},
        {"Vacuum. Vacuuming vacuumed tables reclaims storage occupied by dead tuples",
         0xa5e315e1e8bfb351ULL},
    };
    for (const auto& [text, expected] : golden) {
        const std::uint64_t got = bits_hash(embed_one(*embedder, text));
        EXPECT_EQ(got, expected) << text;
    }
}

TEST(LexicalEmbedder, ModelIdEncodesVersionDimensionsAndWeights) {
    EXPECT_EQ(make_lexical_embedder(512)->model_id(), "lexical-hash-v1-512");
    EXPECT_EQ(make_lexical_embedder(1024)->model_id(), "lexical-hash-v1-1024");
    LexicalEmbedderOptions options;
    options.ngram_weight = 0.9f;
    std::string custom = make_lexical_embedder(options)->model_id();
    EXPECT_NE(custom, "lexical-hash-v1-512");
    EXPECT_EQ(custom.rfind("lexical-hash-v1-512-o", 0), 0u) << custom;
}

TEST(LexicalEmbedder, RejectsDimensionsOutsideRange) {
    EXPECT_THROW(make_lexical_embedder(63), std::invalid_argument);
    EXPECT_THROW(make_lexical_embedder(4097), std::invalid_argument);
    LexicalEmbedderOptions options;
    options.ngram_min = 6;
    options.ngram_max = 4;
    EXPECT_THROW(make_lexical_embedder(options), std::invalid_argument);
}

TEST(LexicalEmbedder, IsDeterministicAcrossInstancesAndBatches) {
    auto first = make_lexical_embedder(512);
    auto second = make_lexical_embedder(512);
    std::vector<std::string_view> texts = {
        "write-ahead log", "vacuum reclaims storage", "write-ahead log"};
    auto batch = first->embed(texts, EmbedKind::kDocument).value();
    ASSERT_EQ(batch.size(), 3u);
    EXPECT_EQ(batch[0], batch[2]);
    EXPECT_EQ(batch[0], embed_one(*second, "write-ahead log"));
    EXPECT_NE(batch[0], batch[1]);
}

TEST(LexicalEmbedder, EmptyOrStopwordOnlyTextGivesZeroVector) {
    auto embedder = make_lexical_embedder(256);
    for (std::string_view text : {"", "   \n\t ", "the of and to", "!!! ... ???"}) {
        Vector vector = embed_one(*embedder, text);
        ASSERT_EQ(vector.size(), 256u);
        EXPECT_EQ(dot(vector, vector), 0.0) << "'" << text << "'";
    }
    EXPECT_TRUE(embedder->embed({}, EmbedKind::kQuery).value().empty());
}

TEST(LexicalEmbedder, SimilarTextsAreCloserThanUnrelatedOnes) {
    auto embedder = make_lexical_embedder(512);
    Vector query =
        embed_one(*embedder, "how to create an index on a table column", EmbedKind::kQuery);
    Vector related = embed_one(*embedder,
                               "CREATE INDEX constructs an index on the specified column(s) of "
                               "the specified table.");
    Vector unrelated = embed_one(*embedder,
                                 "The server writes log files to the configured directory "
                                 "and rotates them daily.");
    EXPECT_GT(dot(query, related), dot(query, unrelated) + 0.1);
}

TEST(LexicalEmbedder, StemmingMatchesInflections) {
    auto embedder = make_lexical_embedder(512);
    Vector indexing = embed_one(*embedder, "indexing");
    Vector indexes = embed_one(*embedder, "indexes");
    Vector cooking = embed_one(*embedder, "cooking");
    // "indexing" and "indexes" share the stem "index" plus n-grams; "cooking" shares only "ing>".
    EXPECT_GT(dot(indexing, indexes), 0.5);
    EXPECT_LT(dot(indexing, cooking), 0.3);
}

TEST(LexicalEmbedder, CharacterNgramsMatchInsideIdentifiers) {
    auto embedder = make_lexical_embedder(1024);
    Vector query = embed_one(*embedder, "TID scan plan types");
    Vector identifier = embed_one(*embedder, "enable_tidscan (boolean)");
    Vector other = embed_one(*embedder, "enable_hashjoin (boolean)");
    EXPECT_GT(dot(query, identifier), dot(query, other));
}

TEST(LexicalEmbedder, ComposedTextWeighsTitleAndSkipsDuplicateHeading) {
    std::vector<std::string> headings = {"CREATE INDEX", "Description"};
    std::string composed = compose_embedding_text("CREATE INDEX", headings, "body text");
    EXPECT_EQ(composed, "CREATE INDEX.\nCREATE INDEX.\nDescription.\nbody text");
    EXPECT_EQ(compose_embedding_text("", {}, "only body"), "only body");
}

TEST(LexicalEmbedder, ConcurrentEmbeddingMatchesSequential) {
    auto embedder = make_lexical_embedder(512);
    std::vector<std::string> texts;
    for (int text_idx = 0; text_idx < 200; ++text_idx) {
        texts.push_back("document number " + std::to_string(text_idx) +
                        " about checkpoints, autovacuum_naptime and replication slots");
    }
    std::vector<Vector> expected;
    for (const auto& text : texts) {
        expected.push_back(embed_one(*embedder, text));
    }
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int thread_idx = 0; thread_idx < 4; ++thread_idx) {
        threads.emplace_back([&] {
            for (int round = 0; round < 5; ++round) {
                for (std::size_t text_idx = 0; text_idx < texts.size(); ++text_idx) {
                    std::string_view text = texts[text_idx];
                    auto vectors = embedder->embed(std::span(&text, 1), EmbedKind::kDocument);
                    if (!vectors || vectors.value()[0] != expected[text_idx]) {
                        ++mismatches;
                    }
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(mismatches.load(), 0);
}

TEST(LexicalEmbedder, LongTokensAndNonAsciiDoNotBreakIt) {
    auto embedder = make_lexical_embedder(128);
    std::string long_token(5000, 'x');
    Vector vector = embed_one(*embedder, long_token + " caf\xc3\xa9 na\xc3\xafve \xff\xfe");
    EXPECT_NEAR(dot(vector, vector), 1.0, 1e-5);
}

}  // namespace
}  // namespace ragd::embed
