#include "redis_server.hpp"

#include <chrono>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/free_port.hpp"

namespace ragd::cache::testing {
namespace {

bool accepts_connections(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in address = ragd::testing::loopback_address(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::string RedisServer::binary() {
    const std::string path = RAGD_REDIS_SERVER;
    return path.find("NOTFOUND") == std::string::npos ? path : "";
}

RedisServer::~RedisServer() {
    stop();
}

bool RedisServer::start() {
    if (pid_ > 0) {
        return true;
    }
    if (binary().empty()) {
        error_ = "redis-server not found at configure time";
        return false;
    }
    if (port_ == 0) {
        port_ = ragd::testing::free_loopback_port();
        if (port_ == 0) {
            error_ = "no free port";
            return false;
        }
    }
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {binary(),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--daemonize",
                                     "no",
                                     "--loglevel",
                                     "warning",
                                     "--dir",
                                     "/tmp"};
    if (tls_.cert_file.empty()) {
        args.insert(args.end(), {"--port", port});
    } else {
        // --port 0 turns plain TCP off: the port speaks TLS only, as a managed Redis does.
        args.insert(args.end(),
                    {"--port",
                     "0",
                     "--tls-port",
                     port,
                     "--tls-cert-file",
                     tls_.cert_file,
                     "--tls-key-file",
                     tls_.key_file,
                     "--tls-ca-cert-file",
                     tls_.ca_file,
                     "--tls-auth-clients",
                     "no"});
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        error_ = "fork failed";
        return false;
    }
    if (pid == 0) {
        // Dies with the test, even when the test is killed, and keeps its log off the test's
        // output (whose pipe it would otherwise hold open).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int null_fd = ::open("/dev/null", O_WRONLY);
        if (null_fd >= 0) {
            ::dup2(null_fd, STDOUT_FILENO);
            ::dup2(null_fd, STDERR_FILENO);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    // Wait for the condition (the port accepts), bounded; not a guessed sleep.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        if (accepts_connections(port_)) {
            return true;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "redis-server exited during startup (port " + port + " taken?)";
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    error_ = "redis-server did not accept connections within 10 s";
    stop();
    return false;
}

void RedisServer::stop() {
    if (pid_ <= 0) {
        return;
    }
    if (paused_) {
        resume();
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

void RedisServer::pause() {
    if (pid_ > 0) {
        ::kill(pid_, SIGSTOP);
        paused_ = true;
    }
}

void RedisServer::resume() {
    if (pid_ > 0) {
        ::kill(pid_, SIGCONT);
        paused_ = false;
    }
}

}  // namespace ragd::cache::testing
