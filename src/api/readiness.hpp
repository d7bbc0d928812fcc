// What GET /ready reports: named checks registered at startup (storage, indexes, and later the
// upstream breakers and Redis), each ok, degraded or failing, plus a draining flag that the
// SIGTERM path sets. The replica is ready only when every *required* check is ok and it is not
// draining; optional checks (an open LLM breaker that falls back to the extractive answerer)
// show up in the body without taking the replica out of the load balancer's rotation.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "cache/answer_cache.hpp"
#include "embed/http_embedder.hpp"
#include "llm/answerer.hpp"
#include "llm/reranker.hpp"
#include "pipeline/engine.hpp"

namespace ragd::api {

enum class CheckStatus { kOk, kDegraded, kFailing };

/// "ok", "degraded", "failing".
std::string_view check_status_name(CheckStatus status);

struct CheckResult {
    CheckStatus status = CheckStatus::kOk;
    /// Why it is not ok, naming the value and the reason; empty when ok.
    std::string detail;
    /// Extra members of the check's JSON object (e.g. "lag": 0); must not use the keys
    /// "status", "required" or "detail".
    boost::json::object fields;
};

/// Runs when /ready is asked or /metrics is scraped, on a compute thread: must be thread-safe
/// and quick (read state a background task keeps, do not make a network call). An exception
/// counts as failing.
using ReadinessCheck = std::function<CheckResult()>;

enum class Requirement {
    kRequired,  ///< not ok => not ready (503)
    kOptional,  ///< reported only: degraded service is still service
};

/// The outcome of evaluating every check.
struct ReadinessReport {
    /// 200 for /ready: not draining and every required check ok.
    bool ready = false;
    /// {"status": "ready" | "not_ready" | "draining", "checks": {name: {"status", "required",
    /// "detail"?, ...fields}}}.
    boost::json::object body;
};

/// Thread-safe.
class ReadinessRegistry {
public:
    /// Adds (or replaces, by name) a check. Meant for startup; also safe later.
    void add(std::string name, Requirement requirement, ReadinessCheck check);
    /// From now on /ready answers 503 "draining", whatever the checks say. One-way.
    void set_draining() { draining_.store(true, std::memory_order_relaxed); }
    bool draining() const { return draining_.load(std::memory_order_relaxed); }

    /// Runs every check, in the order added.
    ReadinessReport evaluate() const;

private:
    struct Entry {
        std::string name;
        Requirement requirement;
        ReadinessCheck check;
    };

    std::atomic<bool> draining_{false};
    mutable std::mutex entries_mutex_;  // guards entries_ (not held while checks run)
    std::vector<Entry> entries_;
};

/// Adds the checks of an embedded engine, both required: "storage" (the change sequence can be
/// read; field "seq") and "indexes" (caught up with storage; fields "lag", "applied_seq",
/// "storage_seq", "vectors", "bm25_chunks"). `engine` must outlive `registry`'s evaluations.
void add_engine_checks(ReadinessRegistry& registry, pipeline::Engine& engine);

/// For a replica following shared storage: whether indexes `lag` changes behind, with the last
/// successful catch-up `since_success` ago, mean it has stopped keeping up (10 intervals, at
/// least 15 s). Lagging alone is normal there: other replicas write all the time.
bool follower_stalled(std::int64_t lag,
                      std::chrono::steady_clock::duration since_success,
                      std::chrono::milliseconds interval);

/// One optional check per LLM upstream ("upstream:NAME"): ok while its breaker is closed,
/// degraded while open or half-open (answers then come from the fallback chain). `answerer`
/// must outlive `registry`'s evaluations.
void add_upstream_checks(ReadinessRegistry& registry, const llm::Answerer& answerer);

/// An optional "reranker" check: ok while its breaker is closed, degraded while open or
/// half-open (queries then keep the fused order). `reranker` must outlive `registry`'s
/// evaluations.
void add_reranker_check(ReadinessRegistry& registry, const llm::Reranker& reranker);

/// An optional "embedder" check for a remote embedder: ok while its breaker is closed,
/// degraded while open or half-open (hybrid queries then search with BM25 alone).
/// `embedder` must outlive `registry`'s evaluations.
void add_embedder_check(ReadinessRegistry& registry, const embed::HttpEmbedder& embedder);

/// An optional "redis" check when the answer cache has an L2: degraded while Redis is
/// unreachable (the cache then runs on L1 only; queries never fail for it).
void add_cache_checks(ReadinessRegistry& registry, const cache::AnswerCache& answers);

}  // namespace ragd::api
