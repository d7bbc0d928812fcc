// The one configuration struct. Each component's constructor takes only its own section.
// Every field has a default and says its unit; config_loader.hpp fills it from a TOML file,
// then RAGD_SECTION_KEY environment variables, then command-line flags.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ragd::core {

struct ServerConfig {
    /// Address to listen on, HOST:PORT; port 0 picks a free port (default 127.0.0.1:8080).
    std::string listen = "127.0.0.1:8080";
    /// I/O threads; 0 means one per core (default 0).
    unsigned threads = 0;
    /// Threads for CPU work (retrieval, answering, ingest); 0 means one per core (default 0).
    unsigned compute_threads = 0;
    /// Requests waiting for a compute thread before new ones get 503 (default 1024).
    std::size_t max_queued_requests = 1024;
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
};

struct StorageConfig {
    /// Data directory holding ragd.sqlite and the derived indexes (default ./ragd-data).
    std::string data_dir = "./ragd-data";
    /// fsync every committed document (survives power loss). `ragd ingest` turns this off for
    /// speed and makes the whole batch durable when it finishes (default true).
    bool durable_commits = true;
};

struct IngestConfig {
    /// Target chunk size in approximate tokens (default 300).
    std::size_t chunk_tokens = 300;
    /// Overlap between consecutive chunks as a fraction of chunk_tokens (default 0.15).
    double chunk_overlap = 0.15;
    /// Files larger than this many bytes are skipped with a reason (default 64 MiB).
    std::size_t max_file_bytes = 64 * 1024 * 1024;
};

struct EmbedConfig {
    /// Embedder: "lexical-hash" is the built-in offline lexical embedder (default).
    std::string provider = "lexical-hash";
    /// Vector dimensions of the built-in embedder (default 512).
    std::size_t dimensions = 512;
};

struct RetrievalConfig {
    /// Results returned when a request does not say (default 5).
    std::size_t top_k = 5;
    /// Largest top_k a request may ask for (default 100).
    std::size_t max_top_k = 100;
    /// Candidates each retriever contributes before fusion (default 100).
    std::size_t candidates = 100;
    /// Reciprocal rank fusion constant k (default 60).
    double rrf_k = 60.0;
    /// Weight of the vector retriever in fusion; below BM25's because the built-in lexical
    /// embedder is the weaker retriever on its own (tuned on pgdocs) (default 0.75).
    double vector_weight = 0.75;
    /// Weight of the BM25 retriever in fusion (default 1.0).
    double bm25_weight = 1.0;
    /// HNSW graph degree M (default 16).
    std::size_t hnsw_m = 16;
    /// HNSW ef at construction (default 200).
    std::size_t hnsw_ef_construction = 200;
    /// HNSW ef at search; raised to the candidate count when smaller (default 128).
    std::size_t hnsw_ef_search = 128;
};

struct LlmConfig {
    /// Generator: "extractive" is the built-in offline answerer (default).
    std::string provider = "extractive";
    /// Most sentences the extractive answerer puts in an answer (default 3).
    std::size_t extractive_max_sentences = 3;
};

struct LogConfig {
    /// Log level: trace, debug, info, warn, error (default info).
    std::string level = "info";
};

struct Config {
    ServerConfig server;
    StorageConfig storage;
    IngestConfig ingest;
    EmbedConfig embed;
    RetrievalConfig retrieval;
    LlmConfig llm;
    LogConfig log;
};

}  // namespace ragd::core
