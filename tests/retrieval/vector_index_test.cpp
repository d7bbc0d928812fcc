// HNSW vector index: recall against brute force, replace/remove/filter semantics, growth, and
// persistence that refuses damaged files instead of trusting them.
#include "retrieval/vector_index.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

class TempDir : public testing::TempDir {
public:
    TempDir() : testing::TempDir("ragd_vector_test_", true) {}
};

std::vector<float> random_unit(std::mt19937& rng, std::size_t dims) {
    std::normal_distribution<float> normal;
    std::vector<float> vector(dims);
    double norm = 0;
    for (float& value : vector) {
        value = normal(rng);
        norm += value * value;
    }
    for (float& value : vector) {
        value = static_cast<float>(value / std::sqrt(norm));
    }
    return vector;
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
    float sum = 0;
    for (std::size_t dim = 0; dim < a.size(); ++dim) {
        sum += a[dim] * b[dim];
    }
    return sum;
}

VectorIndexOptions small_options(std::size_t dims = 32) {
    VectorIndexOptions options;
    options.dimensions = dims;
    options.m = 16;
    options.ef_construction = 100;
    options.ef_search = 64;
    return options;
}

std::unique_ptr<VectorIndex> open_ok(const std::string& dir,
                                     const VectorIndexOptions& options,
                                     std::string* problem = nullptr) {
    auto index = open_vector_index(dir, options, problem);
    EXPECT_TRUE(index.has_value());
    return std::move(index.value());
}

TEST(VectorIndex, RecallAgainstBruteForceAndGrowthPastInitialCapacity) {
    TempDir dir;
    auto index = open_ok(dir.str(), small_options());
    std::mt19937 rng(7);
    std::vector<std::vector<float>> vectors;
    // 1100 > the initial capacity of 1024, so this also exercises resizeIndex.
    for (int vector_idx = 0; vector_idx < 1100; ++vector_idx) {
        vectors.push_back(random_unit(rng, 32));
        ASSERT_TRUE(index->add(vector_idx + 1, vectors.back()));
    }
    EXPECT_EQ(index->size(), 1100u);
    std::size_t found = 0;
    std::size_t wanted = 0;
    for (int query_idx = 0; query_idx < 50; ++query_idx) {
        auto query = random_unit(rng, 32);
        std::vector<std::pair<float, std::int64_t>> exact;
        for (std::size_t vector_idx = 0; vector_idx < vectors.size(); ++vector_idx) {
            exact.emplace_back(dot(query, vectors[vector_idx]),
                               static_cast<std::int64_t>(vector_idx + 1));
        }
        std::partial_sort(exact.begin(), exact.begin() + 10, exact.end(), std::greater<>());
        auto hits = index->search(query, 10);
        ASSERT_EQ(hits.size(), 10u);
        // The index stores int8-quantised vectors: similarities are close, not exact (at 32
        // dimensions within a few 1e-3; int8_dot_space_test bounds the error).
        EXPECT_NEAR(hits[0].similarity, dot(query, vectors[hits[0].chunk_id - 1]), 1e-2);
        for (std::size_t hit_idx = 1; hit_idx < hits.size(); ++hit_idx) {
            EXPECT_GE(hits[hit_idx - 1].similarity, hits[hit_idx].similarity);
        }
        std::set<std::int64_t> truth;
        for (int rank = 0; rank < 10; ++rank) {
            truth.insert(exact[rank].second);
        }
        for (const auto& hit : hits) {
            found += truth.count(hit.chunk_id);
        }
        wanted += 10;
    }
    EXPECT_GE(static_cast<double>(found) / static_cast<double>(wanted), 0.95);
}

TEST(VectorIndex, RemoveReplaceAndReAdd) {
    TempDir dir;
    auto index = open_ok(dir.str(), small_options(8));
    std::vector<float> east = {1, 0, 0, 0, 0, 0, 0, 0};
    std::vector<float> north = {0, 1, 0, 0, 0, 0, 0, 0};
    ASSERT_TRUE(index->add(1, east));
    ASSERT_TRUE(index->add(2, north));
    EXPECT_EQ(index->search(east, 1).at(0).chunk_id, 1);

    // Replace: chunk 1 now points north; the count does not change.
    ASSERT_TRUE(index->add(1, north));
    EXPECT_EQ(index->size(), 2u);
    auto hits = index->search(east, 2);
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_NEAR(hits[0].similarity, 0.0f, 1e-5);

    index->remove(2);
    index->remove(2);    // removing twice is fine
    index->remove(999);  // and so is removing what never existed
    EXPECT_EQ(index->size(), 1u);
    hits = index->search(north, 5);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].chunk_id, 1);

    // Re-adding a removed label brings it back.
    ASSERT_TRUE(index->add(2, east));
    EXPECT_EQ(index->size(), 2u);
    EXPECT_EQ(index->search(east, 1).at(0).chunk_id, 2);
}

TEST(VectorIndex, ChunkIdsListLiveLabelsAndClearEmpties) {
    TempDir dir;
    auto index = open_ok(dir.str(), small_options(8));
    std::vector<float> east = {1, 0, 0, 0, 0, 0, 0, 0};
    for (std::int64_t id : {30, 10, 20}) {
        ASSERT_TRUE(index->add(id, east));
    }
    index->remove(20);
    EXPECT_EQ(index->chunk_ids(), (std::vector<std::int64_t>{10, 30}));
    index->set_applied_seq(5);
    index->clear();
    EXPECT_TRUE(index->chunk_ids().empty());
    EXPECT_EQ(index->size(), 0u);
    EXPECT_EQ(index->applied_seq(), 0);
    EXPECT_TRUE(index->search(east, 3).empty());
    ASSERT_TRUE(index->add(20, east));  // usable after clearing, removed labels included
    EXPECT_EQ(index->chunk_ids(), std::vector<std::int64_t>{20});
}

TEST(VectorIndex, RejectsWrongDimensions) {
    TempDir dir;
    auto index = open_ok(dir.str(), small_options(8));
    std::vector<float> short_vector(7, 0.1f);
    auto added = index->add(1, short_vector);
    ASSERT_FALSE(added);
    EXPECT_EQ(added.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_TRUE(index->search(short_vector, 3).empty());
    EXPECT_EQ(index->size(), 0u);
    EXPECT_TRUE(index->search(std::vector<float>(8, 0.1f), 3).empty());  // empty index
}

TEST(VectorIndex, FilterOversamplesUntilEnoughAcceptedHits) {
    TempDir dir;
    auto index = open_ok(dir.str(), small_options());
    std::mt19937 rng(11);
    for (int vector_idx = 1; vector_idx <= 600; ++vector_idx) {
        ASSERT_TRUE(index->add(vector_idx, random_unit(rng, 32)));
    }
    auto query = random_unit(rng, 32);
    // Only 1 in 50 labels passes: a plain top-k*4 would rarely contain 5 of them.
    auto accept = [](std::int64_t id) {
        return id % 50 == 0;
    };
    auto hits = index->search(query, 5, accept);
    ASSERT_EQ(hits.size(), 5u);
    for (const auto& hit : hits) {
        EXPECT_EQ(hit.chunk_id % 50, 0);
    }
    // Fewer matches than k: all of them, no more.
    auto rare = index->search(query, 5, [](std::int64_t id) { return id == 17 || id == 400; });
    ASSERT_EQ(rare.size(), 2u);
    EXPECT_TRUE(index->search(query, 5, [](std::int64_t) { return false; }).empty());
}

TEST(VectorIndex, SaveAndReloadRoundTripWithAppliedSeq) {
    TempDir dir;
    std::mt19937 rng(3);
    std::vector<std::vector<float>> vectors;
    {
        auto index = open_ok(dir.str(), small_options());
        for (int vector_idx = 1; vector_idx <= 300; ++vector_idx) {
            vectors.push_back(random_unit(rng, 32));
            ASSERT_TRUE(index->add(vector_idx, vectors.back()));
        }
        index->remove(5);
        index->set_applied_seq(42);
        ASSERT_TRUE(index->save());
        EXPECT_GT(index->memory_bytes(), 300u * 32 * sizeof(float));
    }
    EXPECT_TRUE(fs::exists(dir.path() / "vectors.hnsw"));
    EXPECT_TRUE(fs::exists(dir.path() / "vectors.meta"));
    EXPECT_FALSE(fs::exists(dir.path() / "vectors.hnsw.tmp"));
    std::string problem;
    auto index = open_ok(dir.str(), small_options(), &problem);
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_EQ(index->applied_seq(), 42);
    EXPECT_EQ(index->size(), 299u);
    EXPECT_EQ(index->search(vectors[9], 1).at(0).chunk_id, 10);
    for (const auto& hit : index->search(vectors[4], 300)) {
        EXPECT_NE(hit.chunk_id, 5);  // the removal survived the round trip
    }
    // The reloaded index keeps accepting writes, including past its loaded capacity.
    for (int vector_idx = 301; vector_idx <= 1100; ++vector_idx) {
        ASSERT_TRUE(index->add(vector_idx, random_unit(rng, 32)));
    }
    EXPECT_EQ(index->size(), 1099u);
}

TEST(VectorIndex, FreshDirectoryHasNoProblemAndSeqZero) {
    TempDir dir;
    std::string problem;
    auto index = open_ok((dir.path() / "not-yet").string(), small_options(), &problem);
    EXPECT_TRUE(problem.empty());
    EXPECT_EQ(index->applied_seq(), 0);
    EXPECT_EQ(index->size(), 0u);
    ASSERT_TRUE(index->save());  // creates the directory
}

class DamagedVectorFiles : public ::testing::Test {
protected:
    void SetUp() override {
        auto index = open_ok(dir_.str(), small_options());
        std::mt19937 rng(5);
        for (int vector_idx = 1; vector_idx <= 200; ++vector_idx) {
            ASSERT_TRUE(index->add(vector_idx, random_unit(rng, 32)));
        }
        index->set_applied_seq(9);
        ASSERT_TRUE(index->save());
    }

    void expect_treated_as_missing(const VectorIndexOptions& options = small_options()) {
        std::string problem;
        auto index = open_ok(dir_.str(), options, &problem);
        EXPECT_FALSE(problem.empty());
        EXPECT_EQ(index->applied_seq(), 0);
        EXPECT_EQ(index->size(), 0u);
        std::vector<float> vector(options.dimensions, 0.0f);
        vector[0] = 1;
        EXPECT_TRUE(index->add(1, vector));  // and usable for the rebuild
    }

    TempDir dir_;
};

TEST_F(DamagedVectorFiles, TruncatedIndexFile) {
    auto path = dir_.path() / "vectors.hnsw";
    fs::resize_file(path, fs::file_size(path) / 2);
    expect_treated_as_missing();
}

TEST_F(DamagedVectorFiles, FlippedByteWithSameSize) {
    auto path = dir_.path() / "vectors.hnsw";
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(200);
    file.put('\x5a');
    file.close();
    expect_treated_as_missing();
}

TEST_F(DamagedVectorFiles, MissingMeta) {
    fs::remove(dir_.path() / "vectors.meta");
    expect_treated_as_missing();
}

TEST_F(DamagedVectorFiles, GarbageMeta) {
    std::ofstream(dir_.path() / "vectors.meta") << "not a meta file";
    expect_treated_as_missing();
}

TEST_F(DamagedVectorFiles, DimensionsChanged) {
    expect_treated_as_missing(small_options(16));
}

/// Vectors of another model are not comparable with this model's queries, whatever their
/// length: the index is rebuilt, not reused.
TEST(VectorIndex, AnotherModelsIndexIsRebuiltAndTheSameModelsIsKept) {
    TempDir dir;
    VectorIndexOptions model_a = small_options();
    model_a.model_id = "openai:text-embedding-3-small:32";
    {
        auto index = open_ok(dir.str(), model_a);
        std::mt19937 rng(3);
        for (int vector_idx = 1; vector_idx <= 20; ++vector_idx) {
            ASSERT_TRUE(index->add(vector_idx, random_unit(rng, 32)));
        }
        index->set_applied_seq(4);
        ASSERT_TRUE(index->save());
    }
    std::string problem;
    auto same = open_ok(dir.str(), model_a, &problem);
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_EQ(same->size(), 20u);
    same.reset();

    VectorIndexOptions model_b = model_a;
    model_b.model_id = "openai:other model:32";  // whitespace is stored as '_'
    auto other = open_ok(dir.str(), model_b, &problem);
    EXPECT_NE(problem.find("built by model openai:text-embedding-3-small:32, configured "
                           "openai:other_model:32"),
              std::string::npos)
        << problem;
    EXPECT_EQ(other->size(), 0u);
    EXPECT_EQ(other->applied_seq(), 0);
    ASSERT_TRUE(other->save());
    other.reset();
    problem.clear();
    auto reopened = open_ok(dir.str(), model_b, &problem);
    EXPECT_TRUE(problem.empty()) << problem;
}

TEST_F(DamagedVectorFiles, MetaWithoutAModelIsKept) {
    // Files written before the model was recorded ("model -" or no line at all) load as they
    // are: the embedder has not changed since, as nothing but the built-in one existed.
    VectorIndexOptions options = small_options();
    options.model_id = "lexical-hash-v1-32";
    std::string problem;
    auto index = open_ok(dir_.str(), options, &problem);
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_EQ(index->size(), 200u);
}

TEST(VectorIndex, ConcurrentSearchesDuringAdds) {
    TempDir dir;
    VectorIndexOptions options = small_options();
    options.ef_construction = 40;
    auto index = open_ok(dir.str(), options);
    std::mt19937 rng(9);
    std::vector<std::vector<float>> vectors;
    for (int vector_idx = 0; vector_idx < 1100; ++vector_idx) {
        vectors.push_back(random_unit(rng, 32));
    }
    for (int vector_idx = 0; vector_idx < 100; ++vector_idx) {
        ASSERT_TRUE(index->add(vector_idx + 1, vectors[static_cast<std::size_t>(vector_idx)]));
    }
    std::atomic<bool> done{false};
    std::atomic<int> empty{0};
    std::atomic<int> misses{0};
    std::atomic<int> searches{0};
    std::vector<std::thread> readers;
    for (int thread_idx = 0; thread_idx < 2; ++thread_idx) {
        readers.emplace_back([&] {
            while (!done) {
                auto hits = index->search(vectors[0], 5);
                ++searches;
                if (hits.empty()) {
                    ++empty;
                } else if (hits[0].chunk_id != 1) {
                    // HNSW is approximate while concurrent inserts rewire its graph (hnswlib
                    // 0.6.2 can start a search at a just-promoted entry point whose links are
                    // not written yet): a few misses are expected, a systematic one is a bug.
                    // Measured: <0.5% in Release, ~2% under ASan's slower timing.
                    ++misses;
                }
            }
        });
    }
    // Crosses the resize at 1024 while readers run.
    for (int vector_idx = 100; vector_idx < 1100; ++vector_idx) {
        ASSERT_TRUE(index->add(vector_idx + 1, vectors[static_cast<std::size_t>(vector_idx)]));
        if (vector_idx % 10 == 0) {
            index->remove(vector_idx);
        }
    }
    done = true;
    for (auto& reader : readers) {
        reader.join();
    }
    EXPECT_EQ(empty.load(), 0);
    EXPECT_LE(misses.load() * 10, std::max(searches.load(), 100)) << "more than 10% misses";
    auto hits = index->search(vectors[0], 5);
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].chunk_id, 1);  // once writes stop, the exact match is found
}

}  // namespace
}  // namespace ragd::retrieval
