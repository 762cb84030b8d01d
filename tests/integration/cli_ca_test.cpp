// `credproxy ca export|rotate|import` and `vault init` through the real
// binary: the exported PEM is a CA that `openssl x509` reads as one, a new
// vault has its CA from the start, a rotation exports two certificates
// (current first), refused imports exit 2 with one clear line, and no
// command ever prints a CA private key.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <regex>

#include "tests/integration/cli_vault.hpp"

namespace credproxy::test {
namespace {

// A self-signed certificate and its key, made with OpenSSL in process.
struct pem_pair {
  std::string certificate;
  std::string key;
};

struct cert_shape {
  bool is_ca = true;
  long not_before_s = -3600;  // relative to now
  long not_after_s = 30L * 24 * 3600;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

void add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

pem_pair make_pair(const cert_shape& shape = {}) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Example Org CA"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), shape.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), shape.not_after_s);
  X509_set_pubkey(cert.get(), key.get());
  add_ext(cert.get(), NID_basic_constraints, shape.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(cert.get(), NID_key_usage, shape.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(cert.get(), NID_subject_key_identifier, "hash");
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

// Every base64 line of a PEM block.
std::vector<std::string> body_lines(const std::string& pem) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < pem.size()) {
    const auto end = pem.find('\n', start);
    const auto line = pem.substr(start, end - start);
    if (!line.empty() && line.find("-----") == std::string::npos) out.push_back(line);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::size_t certificates_in(const std::string& text) {
  std::size_t n = 0;
  for (auto at = text.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos; at = text.find("-----BEGIN", at + 1)) ++n;
  return n;
}

std::string first_certificate(const std::string& bundle) {
  const std::string end = "-----END CERTIFICATE-----\n";
  return bundle.substr(0, bundle.find(end) + end.size());
}

class CliCa : public ::testing::Test {
 protected:
  // Runs a command and remembers everything it printed, for the canary check.
  run_result run(std::vector<std::string> args, const std::string& stdin_data = {}) {
    auto r = v_.run(std::move(args), stdin_data);
    printed_ += r.out + r.err;
    return r;
  }
  std::string ok(std::vector<std::string> args, const std::string& stdin_data = {}) {
    const auto r = run(args, stdin_data);
    EXPECT_EQ(r.status.code, 0) << r.err;
    return r.out;
  }
  // Exit 2 with one line on stderr; returns it.
  std::string refused(std::vector<std::string> args, const std::string& stdin_data = {}) {
    const auto r = run(args, stdin_data);
    EXPECT_EQ(r.status.code, 2) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = (v_.dir() / name).string();
    write_file(path, text);
    return path;
  }
  std::string openssl(const std::vector<std::string>& args, const std::string& input) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = credproxy::test::run(argv, input);
    EXPECT_EQ(r.status.code, 0) << r.err;
    return r.out;
  }

  cli_vault v_;
  std::string printed_;
};

TEST_F(CliCa, ExportPrintsACaThatOpensslReadsAsOne) {
  const auto r = run({"ca", "export"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "vault init already created the CA";
  EXPECT_EQ(certificates_in(r.out), 1u);
  const auto text = openssl({"x509", "-noout", "-text"}, r.out);
  EXPECT_TRUE(std::regex_search(text, std::regex("Subject: O = credproxy, CN = credproxy interception CA \\d{4}-\\d\\d-\\d\\d [0-9a-f]{8}")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("X509v3 Basic Constraints: critical\\s+CA:TRUE, pathlen:0"))) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex("X509v3 Key Usage: critical\\s+Certificate Sign, CRL Sign"))) << text;
  EXPECT_NE(text.find("ASN1 OID: prime256v1"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Subject Key Identifier"), std::string::npos) << text;
  EXPECT_EQ(ok({"ca", "export"}), r.out) << "the same CA every time";
}

TEST_F(CliCa, ExportToAFileIsPublic) {
  const auto path = (v_.dir() / "ca.pem").string();
  const auto out = ok({"ca", "export", "--out", path});
  EXPECT_EQ(out, "wrote 1 CA certificate to " + path + "\n");
  EXPECT_EQ(read_file(path), ok({"ca", "export"}));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(CliCa, RotateExportsTwoCertificatesCurrentFirst) {
  const auto before = ok({"ca", "export"});
  const auto report = ok({"ca", "rotate"});
  EXPECT_NE(report.find("new interception CA O=credproxy, CN=credproxy interception CA"), std::string::npos) << report;
  EXPECT_NE(report.find("the previous CA stays in the exported bundle until 20"), std::string::npos) << report;
  EXPECT_NE(report.find("run credproxy ca export"), std::string::npos) << report;

  const auto after = ok({"ca", "export"});
  ASSERT_EQ(certificates_in(after), 2u) << after;
  EXPECT_NE(first_certificate(after), before);
  EXPECT_EQ(after.substr(after.size() - before.size()), before) << "the old CA second";
  // The fingerprint printed is the new (first) certificate's.
  const auto fingerprint = openssl({"x509", "-noout", "-fingerprint", "-sha256"}, first_certificate(after));
  const auto value = fingerprint.substr(fingerprint.find('=') + 1, 95);
  EXPECT_NE(report.find("SHA-256 fingerprint " + value), std::string::npos) << report << fingerprint;
}

TEST_F(CliCa, ImportedCaBecomesCurrentAndTheOldOneIsRetired) {
  const auto before = ok({"ca", "export"});
  const auto pair = make_pair();
  const auto report = ok({"ca", "import", "--cert", write("org.crt", pair.certificate), "--key", "-"}, pair.key);
  EXPECT_NE(report.find("imported interception CA CN=Example Org CA"), std::string::npos) << report;
  EXPECT_EQ(ok({"ca", "export"}), pair.certificate + before);
  for (const auto& line : body_lines(pair.key)) {
    EXPECT_EQ(read_file(v_.dir() / "v.vault").find(line), std::string::npos) << "key stored in the clear";
  }
}

TEST_F(CliCa, RefusedImportsExitTwoWithOneClearLine) {
  const auto before = ok({"ca", "export"});
  const auto good = make_pair();
  const auto other = make_pair();
  const auto cert = write("org.crt", good.certificate);
  EXPECT_NE(refused({"ca", "import", "--cert", cert, "--key", write("other.key", other.key)})
                .find("credproxy: the private key does not belong to the CA certificate"),
            std::string::npos);
  const auto leaf = make_pair({.is_ca = false});
  EXPECT_NE(refused({"ca", "import", "--cert", write("leaf.crt", leaf.certificate), "--key", "-"}, leaf.key)
                .find("credproxy: the certificate is not a CA certificate"),
            std::string::npos);
  const auto expired = make_pair({.not_before_s = -48 * 3600, .not_after_s = -3600});
  EXPECT_NE(refused({"ca", "import", "--cert", write("old.crt", expired.certificate), "--key", "-"}, expired.key)
                .find("credproxy: the CA certificate expired at 20"),
            std::string::npos);
  EXPECT_NE(refused({"ca", "import", "--cert", write("garbage.crt", "hello"), "--key", "-"}, good.key)
                .find("holds no PEM certificate"),
            std::string::npos);
  EXPECT_NE(refused({"ca", "import", "--cert", (v_.dir() / "missing.crt").string(), "--key", "-"}, good.key)
                .find("cannot read"),
            std::string::npos);
  EXPECT_EQ(run({"ca", "import", "--cert", "-", "--key", "-"}).status.code, 1) << "usage: one stdin";
  EXPECT_EQ(run({"ca", "import", "--cert", cert}).status.code, 1) << "usage: --key is required";
  EXPECT_EQ(ok({"ca", "export"}), before) << "nothing changed";
}

TEST_F(CliCa, NoCommandPrintsACaPrivateKey) {
  const auto imported = make_pair();
  const auto other = make_pair();
  ok({"ca", "export"});
  ok({"ca", "rotate"});
  ok({"ca", "import", "--cert", write("org.crt", imported.certificate), "--key", write("org.key", imported.key)});
  run({"ca", "import", "--cert", write("org2.crt", other.certificate), "--key", "-"}, imported.key);  // mismatch
  run({"ca", "import", "--cert", write("bad.crt", imported.key), "--key", "-"}, imported.key);       // key as cert
  ok({"ca", "export", "--out", (v_.dir() / "bundle.pem").string()});
  ok({"ca", "rotate"});
  ok({"ca", "export"});
  ok({"cred", "list"});
  EXPECT_EQ(printed_.find("PRIVATE KEY"), std::string::npos) << printed_;
  for (const auto& line : body_lines(imported.key)) EXPECT_EQ(printed_.find(line), std::string::npos) << line;
  EXPECT_EQ(read_file(v_.dir() / "bundle.pem").find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
