// The system trust store is added to the client TLS context on first use,
// once, without blocking the thread that asked for it.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "outbound/system_trust.hpp"

namespace credproxy::outbound {
namespace {

namespace asio = boost::asio;

// A self-signed certificate as PEM text: the whole "system store".
std::string self_signed_pem() {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x509 = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
  X509_set_pubkey(x509, pkey);
  X509_NAME* name = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test root"), -1, -1, 0);
  X509_set_issuer_name(x509, name);
  X509_sign(x509, pkey, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x509);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  X509_free(x509);
  EVP_PKEY_free(pkey);
  return pem;
}

struct store_files {
  std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) / ("system_trust." + std::to_string(::getpid()));
  std::filesystem::path file = dir / "bundle.pem";
  std::filesystem::path no_dir = dir / "certs";  // missing: adds nothing
  store_files() { std::filesystem::create_directories(dir); }
  ~store_files() { std::filesystem::remove_all(dir); }
  // The bundle file with one self-signed certificate.
  void write_one_certificate() const {
    FILE* f = std::fopen(file.c_str(), "w");
    const auto pem = self_signed_pem();
    std::fwrite(pem.data(), 1, pem.size(), f);
    std::fclose(f);
  }
};

std::size_t certificates_in(asio::ssl::context& context) {
  return static_cast<std::size_t>(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(context.native_handle()))));
}

asio::awaitable<void> wait_and_note(system_trust* trust, std::atomic<bool>* other_work_ran, bool* ran_before_load,
                                    bool* done) {
  co_await trust->ensure_loaded();
  *ran_before_load = other_work_ran->load();
  *done = true;
}

TEST(SystemTrust, LoadsOnFirstUseOnce) {
  store_files files;
  files.write_one_certificate();
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  system_trust trust(context, files.file, files.no_dir);
  EXPECT_FALSE(trust.loaded());
  EXPECT_EQ(certificates_in(*context), 0u);  // nothing at construction

  // Two threads ask at once; each resumes on its own io_context.
  asio::io_context a, b;
  std::atomic<bool> unused{false};
  bool noted_a = false, noted_b = false, done_a = false, done_b = false;
  asio::co_spawn(a, wait_and_note(&trust, &unused, &noted_a, &done_a), asio::detached);
  asio::co_spawn(b, wait_and_note(&trust, &unused, &noted_b, &done_b), asio::detached);
  std::thread other([&b] { b.run_for(std::chrono::seconds(10)); });
  a.run_for(std::chrono::seconds(10));
  other.join();
  EXPECT_TRUE(done_a);
  EXPECT_TRUE(done_b);
  EXPECT_TRUE(trust.loaded());
  EXPECT_EQ(certificates_in(*context), 1u);  // loaded once, not once per waiter
}

TEST(SystemTrust, ABlockingLoadReturnsWithTheStoreInPlace) {
  store_files files;
  files.write_one_certificate();
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  system_trust trust(context, files.file, files.no_dir);
  trust.load_blocking();
  EXPECT_TRUE(trust.loaded());
  EXPECT_EQ(certificates_in(*context), 1u);
  trust.load_blocking();  // once
  EXPECT_EQ(certificates_in(*context), 1u);
}

// The store's file is a FIFO that yields its certificate only once other
// work on the asking thread has run: a load on that thread would hold it
// until the writer gives up waiting (5 s) and the test fails.
TEST(SystemTrust, LoadDoesNotBlockTheAskingThread) {
  store_files files;
  ASSERT_EQ(::mkfifo(files.file.c_str(), 0600), 0);
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  system_trust trust(context, files.file, files.no_dir);

  asio::io_context io;
  std::atomic<bool> other_work_ran{false};
  bool ran_before_load = false, done = false;
  asio::co_spawn(io, wait_and_note(&trust, &other_work_ran, &ran_before_load, &done), asio::detached);
  asio::post(io, [&other_work_ran] { other_work_ran = true; });
  std::thread writer([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!other_work_ran && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // Non-blocking: fails (ENXIO) until the loader opened the reading end.
    int fd = -1;
    for (int i = 0; i < 1000 && fd < 0; ++i) {
      fd = ::open(files.file.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fd < 0) return;
    const auto pem = self_signed_pem();
    EXPECT_EQ(::write(fd, pem.data(), pem.size()), static_cast<ssize_t>(pem.size()));
    ::close(fd);
  });
  io.run_for(std::chrono::seconds(10));
  writer.join();
  EXPECT_TRUE(done);
  EXPECT_TRUE(ran_before_load);
  EXPECT_EQ(certificates_in(*context), 1u);
}

}  // namespace
}  // namespace credproxy::outbound
