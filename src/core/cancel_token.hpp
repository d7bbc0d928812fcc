// A one-shot, thread-safe cancellation signal shared by everyone working for one request: the
// HTTP session cancels it when its client disconnects; the LLM call and the upstream HTTP client
// register callbacks that abort their pending I/O. Callbacks run on the cancelling thread, so
// they must only post work to their own executor (or set flags), never block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace ragd::core {

class CancelToken {
public:
    using Callback = std::function<void()>;
    using Registration = std::uint64_t;

    static std::shared_ptr<CancelToken> create() { return std::make_shared<CancelToken>(); }

    /// Fires every registered callback once; later calls do nothing.
    void cancel() {
        std::vector<std::pair<Registration, Callback>> callbacks;
        {
            const std::lock_guard lock(mutex_);
            if (cancelled_) {
                return;
            }
            cancelled_ = true;
            callbacks.swap(callbacks_);
        }
        for (auto& [id, callback] : callbacks) {
            callback();
        }
    }

    bool cancelled() const {
        const std::lock_guard lock(mutex_);
        return cancelled_;
    }

    /// Registers `callback`; when already cancelled it runs at once (on this thread) and 0 is
    /// returned. Remove the registration before the state the callback touches goes away.
    Registration on_cancel(Callback callback) {
        {
            const std::lock_guard lock(mutex_);
            if (!cancelled_) {
                const Registration id = ++next_id_;
                callbacks_.emplace_back(id, std::move(callback));
                return id;
            }
        }
        callback();
        return 0;
    }

    /// Forgets a registration; harmless for 0 or an id that already fired.
    void remove(Registration id) {
        const std::lock_guard lock(mutex_);
        std::erase_if(callbacks_, [id](const auto& entry) { return entry.first == id; });
    }

private:
    mutable std::mutex mutex_;
    bool cancelled_ = false;
    Registration next_id_ = 0;
    std::vector<std::pair<Registration, Callback>> callbacks_;
};

/// Removes a registration when it goes out of scope.
class CancelRegistration {
public:
    CancelRegistration() = default;
    CancelRegistration(std::shared_ptr<CancelToken> token, CancelToken::Callback callback)
        : token_(std::move(token)) {
        if (token_) {
            id_ = token_->on_cancel(std::move(callback));
        }
    }
    CancelRegistration(const CancelRegistration&) = delete;
    CancelRegistration& operator=(const CancelRegistration&) = delete;
    ~CancelRegistration() {
        if (token_) {
            token_->remove(id_);
        }
    }

private:
    std::shared_ptr<CancelToken> token_;
    CancelToken::Registration id_ = 0;
};

}  // namespace ragd::core
