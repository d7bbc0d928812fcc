// A real redis-server child process on an ephemeral loopback port, for the L2 tests; plain TCP,
// or TLS only (rediss://) when given a certificate.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace ragd::cache::testing {

/// PEM files for a TLS-only server. Clients need not present a certificate.
struct RedisServerTls {
    std::string cert_file;
    std::string key_file;
    std::string ca_file;  ///< redis-server requires one even when it asks no client for a cert
};

class RedisServer {
public:
    /// Path of the redis-server binary found at configure time ("" when missing).
    static std::string binary();

    RedisServer() = default;
    /// TLS on the port instead of plain TCP (redis-server --port 0 --tls-port P ...);
    /// `extra_args` are appended to the command line (e.g. {"--requirepass", "secret"}).
    explicit RedisServer(RedisServerTls tls, std::vector<std::string> extra_args = {})
        : tls_(std::move(tls)), extra_args_(std::move(extra_args)) {}
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    /// Starts on a free port (the first time) or on the same port again (after stop()), and
    /// waits until it accepts connections. False, with a reason in error(), on failure.
    bool start();
    /// SIGTERM and wait for exit.
    void stop();
    /// SIGSTOP / SIGCONT: the port stays open but nothing answers.
    void pause();
    void resume();

    std::uint16_t port() const { return port_; }
    /// rediss:// for a TLS server.
    std::string url() const {
        return (tls_.cert_file.empty() ? "redis://127.0.0.1:" : "rediss://127.0.0.1:") +
               std::to_string(port_);
    }
    const std::string& error() const { return error_; }

private:
    RedisServerTls tls_;
    std::vector<std::string> extra_args_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    bool paused_ = false;
    std::string error_;
};

}  // namespace ragd::cache::testing
