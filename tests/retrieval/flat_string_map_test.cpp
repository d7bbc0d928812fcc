// The open-addressing map behind BM25's word → stem cache and term dictionary.
#include "retrieval/flat_string_map.hpp"

#include <deque>
#include <string>
#include <unordered_map>

#include <gtest/gtest.h>

namespace ragd::retrieval {
namespace {

using Map = FlatStringMap<std::uint32_t>;

TEST(FlatStringMap, FindsEveryKeyAcrossGrowthAndMissesTheRest) {
    Map map;
    std::deque<std::string> keys;  // the map does not own key bytes
    std::unordered_map<std::string, std::uint32_t> expected;
    for (std::uint32_t idx = 0; idx < 50'000; ++idx) {
        const std::string& key = keys.emplace_back("term" + std::to_string(idx * 7919));
        ASSERT_EQ(map.find(key, Map::hash_of(key)), nullptr) << key;
        EXPECT_EQ(*map.insert(key, Map::hash_of(key), idx), idx);
        expected[key] = idx;
    }
    EXPECT_EQ(map.size(), expected.size());
    for (const auto& [key, value] : expected) {
        const std::uint32_t* found = map.find(key, Map::hash_of(key));
        ASSERT_NE(found, nullptr) << key;
        EXPECT_EQ(*found, value) << key;
    }
    EXPECT_EQ(map.find("term1", Map::hash_of("term1")), nullptr);
    EXPECT_EQ(map.find("", Map::hash_of("")), nullptr);
    map.clear();
    EXPECT_EQ(map.size(), 0U);
    EXPECT_EQ(map.find(keys.front(), Map::hash_of(keys.front())), nullptr);
}

// Keys that share a hash (forced here) are told apart by their bytes, and probing goes past
// them to the empty slot.
TEST(FlatStringMap, EqualHashesAreToldApartByTheKey) {
    Map map;
    const std::string a = "alpha";
    const std::string b = "beta";
    const std::string c = "";
    map.insert(a, 42, 1);
    map.insert(b, 42, 2);
    map.insert(c, 42, 3);
    EXPECT_EQ(*map.find(a, 42), 1U);
    EXPECT_EQ(*map.find(b, 42), 2U);
    EXPECT_EQ(*map.find(c, 42), 3U);
    EXPECT_EQ(map.find("gamma", 42), nullptr);
    EXPECT_EQ(map.find(a, 43), nullptr);
}

}  // namespace
}  // namespace ragd::retrieval
