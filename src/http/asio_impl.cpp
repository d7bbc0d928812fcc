// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION is set on
// ragd_http), as Beast's own test/lib_asio.cpp and test/lib_beast.cpp do: ~30 s once, not per file.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>  // asio::ssl, for the upstream client's TLS
#include <boost/beast/src.hpp>
