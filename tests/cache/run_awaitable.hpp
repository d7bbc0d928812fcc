// Runs one coroutine to completion on an io_context from a plain test body.
#pragma once

#include <chrono>
#include <future>
#include <stdexcept>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace ragd::cache::testing {

template <class T>
T run_awaitable(boost::asio::io_context& io,
                boost::asio::awaitable<T> task,
                std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    io.restart();
    io.run_for(limit);
    if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        throw std::runtime_error("coroutine did not finish in time");
    }
    return future.get();
}

}  // namespace ragd::cache::testing
