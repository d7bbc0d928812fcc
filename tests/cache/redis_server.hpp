// A real redis-server child process on an ephemeral loopback port, for the L2 tests.
#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace ragd::cache::testing {

class RedisServer {
public:
    /// Path of the redis-server binary found at configure time ("" when missing).
    static std::string binary();

    RedisServer() = default;
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
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    const std::string& error() const { return error_; }

private:
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    bool paused_ = false;
    std::string error_;
};

}  // namespace ragd::cache::testing
