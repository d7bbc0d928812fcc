// Throwaway certificates for TLS tests, made with the openssl CLI in a temporary directory
// (nothing is downloaded): a CA, leaves it signs for chosen names, and self-signed leaves.
// Short-lived (2 days) and EC P-256, so making one takes milliseconds.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <stdlib.h>

namespace ragd::testing {

class TestCertificates {
public:
    /// Makes the directory and the CA ("ca.pem", "ca.key"). ok() is false, with the failing
    /// command in error(), when openssl is missing or fails.
    TestCertificates() {
        char pattern[] = "/tmp/ragd-test-certs-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) {
            error_ = "mkdtemp failed";
            return;
        }
        dir_ = pattern;
        run("openssl req -x509 " + std::string(kEcKey) +
            " -keyout ca.key -out ca.pem -days 2 -subj '/CN=ragd test CA'"
            " -addext basicConstraints=critical,CA:TRUE"
            " -addext keyUsage=critical,keyCertSign,cRLSign");
    }
    ~TestCertificates() {
        if (!dir_.empty()) {
            std::error_code ignored;
            std::filesystem::remove_all(dir_, ignored);
        }
    }
    TestCertificates(const TestCertificates&) = delete;
    TestCertificates& operator=(const TestCertificates&) = delete;

    /// NAME.pem / NAME.key: a server certificate signed by the CA for `alt_names`
    /// (subjectAltName syntax, e.g. "DNS:localhost,IP:127.0.0.1").
    bool make_leaf(const std::string& name, const std::string& alt_names) {
        std::ofstream(dir_ / (name + ".ext"))
            << "subjectAltName=" << alt_names
            << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
        return run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                   name + ".key -out " + name + ".csr -subj '/CN=" + name + "'") &&
               run("openssl x509 -req -in " + name +
                   ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + name +
                   ".pem -days 2 -extfile " + name + ".ext");
    }

    /// NAME.pem / NAME.key: a self-signed certificate for `alt_names`, trusted by nobody.
    bool make_self_signed(const std::string& name, const std::string& alt_names) {
        return run("openssl req -x509 " + std::string(kEcKey) + " -keyout " + name + ".key -out " +
                   name + ".pem -days 2 -subj '/CN=" + name +
                   "' -addext subjectAltName=" + alt_names);
    }

    std::string path(const std::string& file) const { return (dir_ / file).string(); }
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

private:
    static constexpr const char* kEcKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

    bool run(const std::string& command) {
        if (!error_.empty()) {
            return false;
        }
        const std::string full = "cd '" + dir_.string() + "' && " + command + " >/dev/null 2>&1";
        if (std::system(full.c_str()) != 0) {
            error_ = "failed: " + full;
            return false;
        }
        return true;
    }

    std::filesystem::path dir_;
    std::string error_;
};

}  // namespace ragd::testing
