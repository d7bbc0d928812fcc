// A throwaway PostgreSQL server (initdb + postgres) on an ephemeral loopback port, for the
// PostgreSQL storage tests: one per test process, a fresh database per test (fresh_database()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ragd::storage::testing {

class PostgresServer {
public:
    /// Directory holding initdb and postgres (the newest /usr/lib/postgresql/*/bin), or "".
    static std::string bin_dir();

    PostgresServer() = default;
    /// Stops the server and removes its data directory.
    ~PostgresServer();
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    /// The first time: initdb into a fresh temp directory, then start on a free port. After
    /// stop(): start again on the same port and data. Waits until the server accepts
    /// connections. False, with a reason in error(), on failure.
    bool start();
    /// Fast shutdown (SIGINT: clients are disconnected) and wait for exit.
    void stop();
    bool restart() {
        stop();
        return start();
    }

    std::uint16_t port() const { return port_; }
    /// libpq conninfo for `dbname` on this server (user ragd, trust authentication).
    std::string conninfo(const std::string& dbname = "postgres") const;
    const std::string& error() const { return error_; }

private:
    bool init_data_dir();
    /// Forks and execs `args` as the postgres user when running as root; -1 on failure.
    pid_t spawn(const std::vector<std::string>& args, const std::string& log_path);

    std::string dir_;  ///< temp root: data/, socket/, log files
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    std::string error_;
};

/// For a fixture's SetUp: creates an empty database, named "ragd_test_<n>" (never the same twice
/// in this process), on the server that every test of this process shares (started on first use,
/// stopped at exit). GTEST_SKIPs the test when the server binaries are not installed and fails it
/// when the server or the database cannot be made: the caller returns if IsSkipped() or
/// HasFatalFailure().
void fresh_database(PostgresServer*& server, std::string& dbname);

/// Runs `sql` as the superuser on `dbname`; "" when it worked, else the error.
std::string admin_exec(const PostgresServer& server,
                       const std::string& dbname,
                       const std::string& sql);

}  // namespace ragd::storage::testing
