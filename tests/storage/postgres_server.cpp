#include "postgres_server.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/free_port.hpp"

namespace ragd::storage::testing {
namespace {

namespace fs = std::filesystem;

/// PostgreSQL refuses to run as root: then the servers run as Debian's `postgres` user.
struct RunAs {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

bool run_as(RunAs& out, std::string& error) {
    if (::geteuid() != 0) {
        return true;
    }
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
        error = "running as root, and there is no 'postgres' user to run the server as";
        return false;
    }
    out = {true, user->pw_uid, user->pw_gid};
    return true;
}

}  // namespace

std::string PostgresServer::bin_dir() {
    std::error_code ec;
    std::string best;
    int best_version = -1;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const fs::path bin = entry.path() / "bin";
        if (!fs::exists(bin / "initdb") || !fs::exists(bin / "postgres")) {
            continue;
        }
        const int version = std::atoi(entry.path().filename().c_str());
        if (version > best_version) {
            best_version = version;
            best = bin.string();
        }
    }
    return best;
}

PostgresServer::~PostgresServer() {
    stop();
    if (!dir_.empty()) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=ragd dbname=" + dbname;
}

pid_t PostgresServer::spawn(const std::vector<std::string>& args, const std::string& log_path) {
    RunAs as;
    if (!run_as(as, error_)) {
        return -1;
    }
    // Everything the child needs is prepared here: between fork and exec only async-signal-safe
    // calls are allowed.
    std::vector<char*> argv;
    for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        error_ = "fork failed";
        return -1;
    }
    if (pid == 0) {
        if (as.switch_user &&
            (::setgroups(0, nullptr) != 0 || ::setgid(as.gid) != 0 || ::setuid(as.uid) != 0)) {
            ::_exit(126);
        }
        // After setuid: a credential change clears the parent-death signal. Dies with the test,
        // even when the test is killed.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::chdir(dir_.c_str()) != 0) {
            ::_exit(126);
        }
        const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (log_fd >= 0) {
            ::dup2(log_fd, STDOUT_FILENO);
            ::dup2(log_fd, STDERR_FILENO);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

bool PostgresServer::init_data_dir() {
    const std::string bin = bin_dir();
    if (bin.empty()) {
        error_ = "no initdb/postgres under /usr/lib/postgresql/*/bin";
        return false;
    }
    std::random_device rd;
    dir_ = (fs::temp_directory_path() /
            ("ragd-pg-" + std::to_string(::getpid()) + "-" + std::to_string(rd())))
               .string();
    std::error_code ec;
    fs::create_directories(dir_ + "/socket", ec);
    if (ec) {
        error_ = "cannot create " + dir_ + ": " + ec.message();
        return false;
    }
    RunAs as;
    if (!run_as(as, error_)) {
        return false;
    }
    if (as.switch_user && (::chown(dir_.c_str(), as.uid, as.gid) != 0 ||
                           ::chown((dir_ + "/socket").c_str(), as.uid, as.gid) != 0)) {
        error_ = "cannot hand " + dir_ + " to the postgres user";
        return false;
    }
    const pid_t pid = spawn({bin + "/initdb",
                             "-D",
                             dir_ + "/data",
                             "-A",
                             "trust",
                             "-U",
                             "ragd",
                             "--no-sync",
                             "-E",
                             "UTF8",
                             "--no-locale"},
                            dir_ + "/initdb.log");
    if (pid < 0) {
        return false;
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        error_ = "initdb failed (see " + dir_ + "/initdb.log)";
        return false;
    }
    return true;
}

bool PostgresServer::start() {
    if (pid_ > 0) {
        return true;
    }
    if (dir_.empty() && !init_data_dir()) {
        return false;
    }
    if (port_ == 0) {
        port_ = ragd::testing::free_loopback_port();
        if (port_ == 0) {
            error_ = "no free port";
            return false;
        }
    }
    pid_ = spawn({bin_dir() + "/postgres",
                  "-D",
                  dir_ + "/data",
                  "-k",
                  dir_ + "/socket",
                  "-p",
                  std::to_string(port_),
                  "-c",
                  "listen_addresses=127.0.0.1",
                  "-c",
                  "fsync=off",
                  "-c",
                  "full_page_writes=off",
                  "-c",
                  "synchronous_commit=off"},
                 dir_ + "/postgres.log");
    if (pid_ < 0) {
        return false;
    }
    // Wait for the condition (the server answers a ping), bounded; not a guessed sleep.
    const std::string info = conninfo() + " connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (PQping(info.c_str()) == PQPING_OK) {
            return true;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "postgres exited during startup (see " + dir_ + "/postgres.log)";
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    error_ = "postgres did not accept connections within 30 s (see " + dir_ + "/postgres.log)";
    stop();
    return false;
}

void PostgresServer::stop() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGINT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string admin_exec(const PostgresServer& server,
                       const std::string& dbname,
                       const std::string& sql) {
    PGconn* conn = PQconnectdb(server.conninfo(dbname).c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
        error = PQerrorMessage(conn);
    } else {
        PGresult* result = PQexec(conn, sql.c_str());
        const ExecStatusType status = PQresultStatus(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            error = PQresultErrorMessage(result);
        }
        PQclear(result);
    }
    PQfinish(conn);
    return error;
}

void fresh_database(PostgresServer*& server, std::string& dbname) {
    if (PostgresServer::bin_dir().empty()) {
        GTEST_SKIP() << "PostgreSQL server binaries not installed (no "
                        "/usr/lib/postgresql/*/bin/postgres; apt-get install postgresql)";
    }
    static std::unique_ptr<PostgresServer> shared;
    static std::string failure;
    static std::atomic<int> databases{0};
    if (!shared && failure.empty()) {
        shared = std::make_unique<PostgresServer>();
        if (!shared->start()) {
            failure = shared->error();
        }
    }
    ASSERT_EQ(failure, "");
    server = shared.get();
    dbname = "ragd_test_" + std::to_string(++databases);
    ASSERT_EQ(admin_exec(*server, "postgres", "CREATE DATABASE " + dbname), "");
}

}  // namespace ragd::storage::testing
