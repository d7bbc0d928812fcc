// The one configuration struct. Each component's constructor takes only its own section.
// Every field has a default and says its unit; config_loader.hpp fills it from a TOML file,
// then RAGD_SECTION_KEY environment variables, then command-line flags.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ragd::core {

struct ServerConfig {
    /// Address to listen on, HOST:PORT; port 0 picks a free port (default 127.0.0.1:8080).
    std::string listen = "127.0.0.1:8080";
    /// I/O threads; 0 means one per core (default 0).
    unsigned threads = 0;
    /// Threads for CPU work (retrieval, answering, ingest); 0 means one per core (default 0).
    unsigned compute_threads = 0;
    /// Requests queued for or running on a compute thread before new ones get 503 (default
    /// 4096). A backstop: the query limits below are what should bound a loaded server. At 1024
    /// it shed a third of 5,000 closed-loop users whose retrievals queued ~2,000 deep (0.7 s of
    /// work) while the server was still keeping up with them.
    std::size_t max_queued_requests = 4096;
    /// Run a query's retrieval and extractive answer on the I/O thread that read the request,
    /// not on a compute thread (default false). Saves ~30 % of the CPU of an uncached query at
    /// moderate load, but under overload nothing sheds: the I/O threads compute instead of
    /// reading, and requests wait in socket buffers rather than meeting the compute queue's 503.
    bool inline_queries = false;
    /// Run a query's retrieval and extractive answer on its I/O thread when nothing else is
    /// computing or queued for the compute pool at that moment, else on the pool (default
    /// true). At low and moderate load most queries skip the two thread wake-ups of the trip
    /// to the pool and back; under load every query meets the compute queue as before, so
    /// shedding is unchanged. Superseded by inline_queries when that is on.
    bool inline_idle_queries = true;
    /// Largest request head (request line + headers) in bytes; larger gets 431 (default 16 KiB).
    std::size_t max_header_bytes = 16 * 1024;
    /// Largest body for query and search routes in bytes (default 1 MiB).
    std::size_t max_query_body_bytes = 1024 * 1024;
    /// Largest body for document routes in bytes (default 32 MiB).
    std::size_t max_document_body_bytes = 32 * 1024 * 1024;
    /// Time allowed to receive a full request head, in ms (default 10000).
    std::chrono::milliseconds header_timeout{10000};
    /// Time allowed to receive a full request body, in ms (default 30000).
    std::chrono::milliseconds body_timeout{30000};
    /// Keep-alive idle time before the server closes a connection, in ms (default 60000).
    std::chrono::milliseconds idle_timeout{60000};
    /// Queries (POST /v1/query) in progress at once, including those waiting on the LLM
    /// (default 10000); more wait up to query_queue_timeout in a queue of max_waiting_queries
    /// (default 1000, 1000 ms), beyond which they get 503 + Retry-After at once.
    std::size_t max_inflight_queries = 10000;
    std::size_t max_waiting_queries = 1000;
    std::chrono::milliseconds query_queue_timeout{1000};
    /// After SIGTERM, how long the server keeps accepting and serving while /ready says 503, so
    /// load balancers stop sending before the listener closes, in ms (default 5000). SIGINT and
    /// a second signal skip it.
    std::chrono::milliseconds drain_delay{5000};
    /// After the drain delay, how long in-flight requests may take to finish before the process
    /// exits anyway, in ms (default 30000).
    std::chrono::milliseconds drain_timeout{30000};
    /// Open connections at most; at the limit the server stops accepting until one closes, and
    /// new clients wait in the kernel's listen backlog (default 20000).
    std::size_t max_connections = 20000;
    /// Open connections per client IP address; one more gets 503 and is closed. 0 means
    /// unlimited (default 0).
    std::size_t max_connections_per_ip = 0;
    /// Requests served on one connection; the last one's response says Connection: close.
    /// 0 means unlimited (default 0).
    std::size_t max_requests_per_connection = 0;
    /// Longest streamed (SSE) response, from its first byte, in ms; then the stream ends with an
    /// error event, the request is cancelled and the connection closed (default 600000).
    std::chrono::milliseconds max_stream{600000};
    /// Streamed pieces written within this many ms of the last send are held back and leave
    /// together at the end of the interval (or with the stream's end); the first piece after a
    /// pause goes at once. Fewer sends per streamed answer for at most this much added delay
    /// per token; 0 sends every piece as it is written (default 50).
    std::chrono::milliseconds stream_flush{50};
    /// Record Prometheus metrics and serve GET /metrics (default true). Off only to measure
    /// what metrics cost; the access log does not depend on it.
    bool metrics = true;
};

struct StorageConfig {
    /// Data directory holding ragd.sqlite and the derived indexes (default ./ragd-data).
    std::string data_dir = "./ragd-data";
    /// fsync every committed document (survives power loss). `ragd ingest` turns this off for
    /// speed and makes the whole batch durable when it finishes (default true).
    bool durable_commits = true;
    /// How embeddings are stored: "int8" (one scale + one byte per dimension, the vector
    /// index's own quantization, a quarter of the bytes) or "float32" (the model's exact
    /// floats). Existing vectors read back either way (default "int8").
    std::string embedding_encoding = "int8";
    /// Memory for the passages queries load (chunk text, heading path, document fields), kept
    /// so that most answers need no database read; 0 = off (default 33554432: 32 MiB, about
    /// 30,000 passages of ~800 bytes).
    std::size_t passage_cache_bytes = std::size_t{32} * 1024 * 1024;
    /// System of record: "sqlite" (ragd.sqlite in data_dir, one process) or "postgres" (a
    /// database shared by a fleet of replicas; each keeps its own indexes in data_dir and
    /// follows the shared change sequence) (default "sqlite").
    std::string backend = "sqlite";
    /// libpq connection string or postgresql:// URL, for backend "postgres". Keep the password
    /// out of it: libpq reads PGPASSWORD or ~/.pgpass (default "").
    std::string postgres_url;
    /// Connections to PostgreSQL at most, shared by every thread (default 8).
    std::size_t postgres_connections = 8;
    /// How often a replica on PostgreSQL applies changes other replicas wrote, in ms; 0 = only
    /// at start and after its own writes (default 1000).
    std::chrono::milliseconds follow_interval{1000};
};

struct IngestConfig {
    /// Target chunk size in approximate tokens (default 300).
    std::size_t chunk_tokens = 300;
    /// Overlap between consecutive chunks as a fraction of chunk_tokens (default 0.15).
    double chunk_overlap = 0.15;
    /// Files larger than this many bytes are skipped with a reason (default 64 MiB).
    std::size_t max_file_bytes = 64 * 1024 * 1024;
    /// Documents a bulk ingest (`ragd ingest`) writes at once; 0 = what the storage backend
    /// gains from (default): 1 on SQLite, which has one writer; on PostgreSQL, where each write
    /// waits on round trips to the server, storage.postgres_connections - 1 (one stays for the
    /// index catch-up's reads), at most 4; at least 16 with a remote embedder (embed.provider
    /// openai), whose round trips the files in flight overlap.
    std::size_t write_concurrency = 0;
};

struct EmbedConfig {
    /// Embedder: "lexical-hash" is the built-in offline lexical embedder (default); "openai"
    /// calls an OpenAI-compatible embeddings API (POST {base_url}/v1/embeddings: OpenAI, vLLM,
    /// Ollama, LiteLLM, text-embeddings-inference, Infinity, LocalAI).
    std::string provider = "lexical-hash";
    /// Vector dimensions: the built-in embedder's (64..4096), or what the model returns
    /// (every answer is checked against it) (default 512).
    std::size_t dimensions = 512;
    /// openai: scheme, host, port and optional path prefix of the service, e.g.
    /// "https://api.openai.com" or "http://127.0.0.1:11434" (required for openai).
    std::string base_url;
    /// openai: model name sent, e.g. "text-embedding-3-small" (required for openai).
    std::string model;
    /// openai: environment variable holding a key sent as "Authorization: Bearer KEY";
    /// "" = no key.
    std::string api_key_env;
    /// openai: send "dimensions" in each request, for models that shorten their vectors
    /// (OpenAI's text-embedding-3); others refuse it (default false).
    bool send_dimensions = false;
    /// openai: texts per request; a document's chunks go in batches of this (default 64).
    std::size_t batch_size = 64;
    /// openai: batches of one document sent at once (default 4).
    std::size_t concurrency = 4;
    /// openai: longest wait for one request, connection included, in ms (default 30000).
    std::chrono::milliseconds timeout{30000};
    /// openai: longest wait for a question's vector, retries included, in ms; past it a hybrid
    /// query goes on with BM25 alone (default 2000).
    std::chrono::milliseconds query_timeout{2000};
    /// openai: attempts per request, the first included; connection failures, timeouts, 429
    /// and 5xx are retried with backoff (default 3).
    std::size_t max_attempts = 3;
    /// Prepended to each question before embedding, for models trained with instructions
    /// (e.g. "query: " for E5, "search_query: " for nomic-embed) (default "").
    std::string query_prefix;
    /// Prepended to each passage before embedding (e.g. "passage: " for E5); part of the
    /// model id, so changing it re-embeds on the next ingest (default "").
    std::string document_prefix;
    /// Extra CA bundle (PEM) trusted for the service's TLS besides the system store.
    std::string ca_file;
};

struct RetrievalConfig {
    /// Results returned when a request does not say (default 5).
    std::size_t top_k = 5;
    /// Largest top_k a request may ask for (default 100).
    std::size_t max_top_k = 100;
    /// Candidates each retriever contributes before fusion, raised to the request's top_k when
    /// smaller (default 30: on pgdocs, nDCG@10 is the same from 20 to 100 candidates, and
    /// fewer cost less BM25 and HNSW work per query; bench/README.md).
    std::size_t candidates = 30;
    /// Reciprocal rank fusion constant k (default 60).
    double rrf_k = 60.0;
    /// Weight of the vector retriever in fusion; below BM25's because the built-in lexical
    /// embedder is the weaker retriever on its own (tuned on pgdocs) (default 0.75).
    double vector_weight = 0.75;
    /// Weight of the BM25 retriever in fusion (default 1.0).
    double bm25_weight = 1.0;
    /// BM25 index: "memory" (ragd's own: postings in memory, a snapshot file beside the
    /// database; ~6x cheaper queries and ~4.5x cheaper indexing than Xapian on pgdocs, same
    /// ranking formula; bench/README.md) or "xapian" (Xapian glass tables on disk, for corpora
    /// whose postings should not live in RAM). Switching rebuilds the index from storage.
    std::string bm25_backend = "memory";
    /// HNSW graph degree M (default 16).
    std::size_t hnsw_m = 16;
    /// HNSW ef at construction (default 100: on pgdocs, nDCG@10 is the same as at 200 and
    /// graph building, most of ingest time, is ~1.5x faster; bench/README.md).
    std::size_t hnsw_ef_construction = 100;
    /// HNSW ef at search; raised to the candidate count when smaller (default 64).
    std::size_t hnsw_ef_search = 64;
};

/// One LLM API endpoint. The primary upstream comes from the llm.* keys (named after its
/// provider); more come from [llm.upstreams.NAME] tables in the TOML file, with the same keys.
struct UpstreamConfig {
    /// Name used in llm.fallback, metrics labels and responses ("openai", "backup").
    std::string name;
    /// API dialect: openai (Chat Completions, also vLLM/Ollama/LiteLLM/Azure), anthropic or
    /// bedrock (Amazon Bedrock's Converse API).
    std::string provider;
    /// Scheme, host, port and optional path prefix; "" means the provider's public API.
    std::string base_url;
    /// Model name sent upstream; "" means the provider default.
    std::string model;
    /// Name of the environment variable holding the API key (the key never goes in a file);
    /// "" means OPENAI_API_KEY / ANTHROPIC_API_KEY.
    std::string api_key_env;
    /// Header carrying the key: "" means the provider's (Authorization: Bearer / x-api-key);
    /// e.g. "api-key" for Azure OpenAI, sent as the bare key.
    std::string api_key_header;
    /// Appended to every request target, e.g. "api-version=2024-06-01" (Azure).
    std::string extra_query;
    /// Extra request headers, "Name: value" separated by ';' (no secrets: use api_key_env).
    std::string extra_headers;
    /// bedrock: the AWS region (signing scope and default endpoint); "" = AWS_REGION, then
    /// AWS_DEFAULT_REGION.
    std::string aws_region;
};

struct LlmConfig {
    /// Primary generator: extractive (built-in, offline; default), openai, anthropic or bedrock.
    std::string provider = "extractive";
    /// Most sentences the extractive answerer puts in an answer (default 3).
    std::size_t extractive_max_sentences = 3;
    /// Primary upstream's base URL, model, key variable and key header (see UpstreamConfig).
    std::string base_url;
    std::string model;
    std::string api_key_env;
    std::string api_key_header;
    std::string extra_query;
    std::string extra_headers;
    std::string aws_region;
    /// Generators tried, in order, when the one before fails or its breaker is open:
    /// comma-separated upstream names or "extractive" (default "extractive").
    std::string fallback = "extractive";
    /// Value of the anthropic-version header (default 2023-06-01).
    std::string anthropic_version = "2023-06-01";
    /// Extra CA bundle (PEM) trusted for upstream TLS besides the system store (default none).
    std::string ca_file;
    /// System prompt; "" uses the built-in one (answer from the numbered passages, cite [n]).
    std::string system_prompt;
    /// The user message: must hold "{passages}" and "{question}" once each; "" uses the
    /// built-in "Passages:\n\n{passages}\n\nQuestion: {question}".
    std::string prompt_template;
    /// Answer length when a request does not say, in tokens (default 512).
    std::size_t max_tokens = 512;
    /// Largest max_tokens a request may ask for (default 4096).
    std::size_t max_tokens_limit = 4096;
    /// Sampling temperature when a request does not say (default 0.2).
    double temperature = 0.2;
    /// Prompt budget for the passages and question, in approximate tokens; lowest-ranked
    /// passages are dropped to fit (default 6000).
    std::size_t max_context_tokens = 6000;
    /// Upstream timeouts: connect (DNS+TCP+TLS), first token, between tokens, whole call, in ms.
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds first_token_timeout{30000};
    std::chrono::milliseconds idle_timeout{30000};
    std::chrono::milliseconds total_timeout{120000};
    /// Attempts per upstream call, including the first (default 3). Retries happen only before
    /// the first token reached the client.
    std::size_t max_attempts = 3;
    /// Retries allowed as a fraction of recent calls, so an outage cannot multiply load (0.2).
    double retry_budget_ratio = 0.2;
    /// Connections per upstream, in use plus idle (default 1024).
    std::size_t max_connections = 1024;
    /// Concurrent calls per upstream (the bulkhead), and calls waiting for a slot (default
    /// 512 and 1024), each waiting at most queue_timeout (default 1000 ms).
    std::size_t max_concurrent = 512;
    std::size_t max_queue = 1024;
    std::chrono::milliseconds queue_timeout{1000};
    /// Client-side quota per upstream, per minute; 0 means unlimited (default 0). A call that
    /// does not fit waits up to quota_wait (default 1000 ms), then falls back.
    double requests_per_minute = 0;
    double tokens_per_minute = 0;
    std::chrono::milliseconds quota_wait{1000};
    /// Circuit breaker: opens after this many consecutive failures (default 5) or when at
    /// least half of the calls in the last 10 s failed; stays open breaker_open_ms (5000).
    std::size_t breaker_failures = 5;
    std::chrono::milliseconds breaker_open{5000};
    /// Named upstreams from [llm.upstreams.NAME] tables (TOML only).
    std::vector<UpstreamConfig> upstreams;
};

struct CacheConfig {
    /// In-process answer cache (L1) budget in bytes; 0 turns answer caching off (default 256 MiB).
    std::size_t l1_max_bytes = std::size_t{256} * 1024 * 1024;
    /// L1 shards, so concurrent lookups rarely share a lock (default 16).
    std::size_t l1_shards = 16;
    /// Lifetime of a cached answer in every tier, in ms (default 3600000: one hour).
    std::chrono::milliseconds ttl{3600 * 1000};
    /// Shared L2 cache: redis://[[user]:password@]host[:port][/db], or rediss://... for TLS;
    /// "" = off (default "").
    std::string redis_url;
    /// rediss:// only: PEM CA bundle trusted besides the system store, for a private CA
    /// (default "": the system store only).
    std::string redis_ca_file;
    /// rediss:// only: verify Redis' certificate and host name (default true). false is for
    /// tests and self-signed setups only; ragd warns at startup.
    bool redis_tls_verify = true;
    /// Prefix of ragd's keys in Redis (default "ragd:answer:").
    std::string redis_prefix = "ragd:answer:";
    /// Redis connections at most (default 8).
    std::size_t redis_max_connections = 8;
    /// Redis per-command and connect deadlines, in ms (default 50 and 200).
    std::chrono::milliseconds redis_command_timeout{50};
    std::chrono::milliseconds redis_connect_timeout{200};
    /// How long Redis is skipped after a failure, in ms (default 1000).
    std::chrono::milliseconds redis_down_backoff{1000};
    /// Semantic cache: reuse an answer for a near-identical question (default false).
    bool semantic_enabled = false;
    /// Smallest cosine similarity of the question embeddings for a semantic hit (default 0.95).
    double semantic_threshold = 0.95;
    /// Semantic entries per collection and parameter set (default 10000).
    std::size_t semantic_max_entries = 10000;
};

/// An optional cross-encoder reranking the fused results before they are answered from or
/// returned (docs/retrieval.md#reranking).
struct RerankConfig {
    /// API dialect: "" (off, default), "cohere" (POST /v1/rerank: Cohere, Jina, Voyage, vLLM,
    /// Infinity, LiteLLM) or "tei" (POST /rerank: text-embeddings-inference).
    std::string provider;
    /// Scheme, host, port and optional path prefix of the rerank service; required when on.
    std::string base_url;
    /// Model name sent (cohere); "" sends none.
    std::string model;
    /// Environment variable holding a key sent as "Authorization: Bearer KEY"; "" = no key.
    std::string api_key_env;
    /// Fused results sent to the reranker, at least the request's top_k (default 20).
    std::size_t candidates = 20;
    /// Longest wait for the reranker, connection included, in ms; past it the fused order is
    /// kept (default 1000).
    std::chrono::milliseconds timeout{1000};
    /// Bytes of each passage sent, cut at a UTF-8 boundary (default 2048).
    std::size_t max_passage_bytes = 2048;
};

struct LogConfig {
    /// Lowest level of messages written: trace, debug, info, warn, error or off (default info).
    /// The access log is governed by `access`, not by this.
    std::string level = "info";
    /// Line format: json (one object per line, for log pipelines) or text (key=value, for a
    /// terminal) (default json).
    std::string format = "json";
    /// One access-log line per finished request (default true).
    bool access = true;
    /// File that log lines are appended to; "" writes them to standard error (default "").
    std::string file;
};

/// One API key ([[auth.keys]] tables in the TOML file). The key itself is never stored: only
/// its SHA-256, so a leaked config file does not leak keys.
struct ApiKeyConfig {
    /// Shown in logs and errors instead of the key; 1-64 of [A-Za-z0-9._-], unique.
    std::string name;
    /// Lower-case or upper-case hex SHA-256 of the key (64 digits), unique.
    std::string sha256;
    /// What the key may do: query (query, search, read documents), ingest (add and delete
    /// documents), admin (stats, and /metrics when auth.protect_metrics) (default query).
    std::vector<std::string> scopes = {"query"};
    /// Collections the key may use; empty or "*" means all (default all).
    std::vector<std::string> collections;
    /// Mandatory metadata filter (e.g. tenant = "acme"): ANDed into every search and query
    /// the key makes, stamped onto every document it ingests (default none).
    std::vector<std::pair<std::string, std::string>> filter;
    /// Request rate limit: refill per second and bucket size; 0 means unlimited (default 0).
    /// burst 0 means max(1, requests_per_second).
    double requests_per_second = 0;
    double burst = 0;
    /// LLM token budgets charged from each answer's usage; 0 means unlimited (default 0).
    double tokens_per_minute = 0;
    double daily_tokens = 0;
};

struct AuthConfig {
    /// auto: on when any key is configured; true: on (keys required); false: off (default auto).
    std::string enabled = "auto";
    /// Allow serving without authentication on a non-loopback address (default false).
    bool allow_unauthenticated_remote = false;
    /// GET /metrics requires a key with the admin scope (default false).
    bool protect_metrics = false;
    /// Where the per-key rate-limit buckets live: "local" (this process) or "redis" (shared by
    /// every replica, falling back to local buckets while Redis fails) (default "local").
    std::string rate_limit_store = "local";
    /// Redis for rate_limit_store = redis; "" = cache.redis_url, with cache.redis_ca_file and
    /// cache.redis_tls_verify (default "").
    std::string redis_url;
    /// With auth.redis_url = rediss://...: PEM CA bundle trusted besides the system store
    /// (default "": the system store only).
    std::string redis_ca_file;
    /// With auth.redis_url = rediss://...: verify Redis' certificate and host name (default
    /// true; false for tests and self-signed setups only).
    bool redis_tls_verify = true;
    /// Deadline of one rate-limit round trip to Redis (and of connecting), after which the
    /// request is decided locally (default 50 ms).
    std::chrono::milliseconds redis_timeout{50};
    /// From [[auth.keys]] tables (TOML only).
    std::vector<ApiKeyConfig> keys;
};

struct Config {
    ServerConfig server;
    StorageConfig storage;
    IngestConfig ingest;
    EmbedConfig embed;
    RetrievalConfig retrieval;
    LlmConfig llm;
    CacheConfig cache;
    RerankConfig rerank;
    LogConfig log;
    AuthConfig auth;
};

}  // namespace ragd::core
