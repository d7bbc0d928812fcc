#include "storage/sqlite_checkpointer.hpp"

namespace ragd::storage::sqlite {

Checkpointer::Checkpointer(std::unique_ptr<Connection> conn)
    : conn_(std::move(conn)), thread_([this](const std::stop_token& stop) { run(stop); }) {}

Checkpointer::~Checkpointer() {
    thread_.request_stop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void Checkpointer::watch(Connection& writer) {
    sqlite3_wal_hook(writer.handle(), &Checkpointer::on_commit, this);
}

std::uint64_t Checkpointer::checkpoints() const {
    std::lock_guard lock(mutex_);
    return checkpoints_;
}

int Checkpointer::on_commit(void* self, sqlite3* db, const char* /*schema*/, int wal_pages) {
    if (wal_pages >= kWalPagesInline) {
        sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (wal_pages >= kWalPages) {
        static_cast<Checkpointer*>(self)->request();
    }
    return SQLITE_OK;
}

void Checkpointer::request() {
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
    }
    wake_.notify_one();
}

void Checkpointer::run(const std::stop_token& stop) {
    std::unique_lock lock(mutex_);
    while (wake_.wait(lock, stop, [this] { return requested_; })) {
        requested_ = false;
        lock.unlock();
        // PASSIVE: copies what no reader still needs and never waits on readers or the writer.
        // A failure (busy, I/O) leaves the WAL longer until the next try, or the last close.
        sqlite3_wal_checkpoint_v2(
            conn_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        lock.lock();
        ++checkpoints_;
    }
}

}  // namespace ragd::storage::sqlite
