#include "tests/support/curl.hpp"

#include <sstream>
#include <stdexcept>

#include "tests/support/util.hpp"

namespace credproxy::test {

const curl_response& curl_result::only() const {
  if (responses.size() != 1) throw std::logic_error("expected exactly one curl response");
  return responses.front();
}

curl_runner::curl_runner(std::uint16_t proxy_port, std::filesystem::path work_dir)
    : proxy_port_(proxy_port), dir_(std::move(work_dir)) {}

std::vector<std::string> split_header_blocks(const std::string& dump) {
  std::vector<std::string> blocks;
  std::istringstream in(dump);
  std::string line, block;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!block.empty()) blocks.push_back(block);
      block.clear();
    } else {
      block += line + "\n";
    }
  }
  if (!block.empty()) blocks.push_back(block);
  return blocks;
}

unsigned parse_header_block(const std::string& block, header_list& headers) {
  std::istringstream in(block);
  std::string line;
  unsigned status = 0;
  if (std::getline(in, line)) {
    std::istringstream status_line(line);
    std::string version;
    status_line >> version >> status;
  }
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    headers.emplace_back(line.substr(0, colon), value);
  }
  return status;
}

curl_result curl_runner::perform(const curl_request& request) {
  const std::string tag = std::to_string(++sequence_);
  std::vector<std::string> argv = {"curl"};
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> files;
  for (std::size_t i = 0; i < request.urls.size(); ++i) {
    if (i > 0) argv.push_back("--next");  // same curl, same connection cache
    const auto header_file = dir_ / ("curl-" + tag + "-" + std::to_string(i) + ".headers");
    const auto body_file = dir_ / ("curl-" + tag + "-" + std::to_string(i) + ".body");
    files.emplace_back(header_file, body_file);
    for (const char* a : {"-sS", "--globoff", "--path-as-is"}) argv.emplace_back(a);
    if (proxy_port_ != 0) {
      argv.insert(argv.end(), {"--noproxy", "", "-x", "http://127.0.0.1:" + std::to_string(proxy_port_)});
    } else {
      argv.insert(argv.end(), {"--noproxy", "*"});  // straight to the URL (harness self-tests)
    }
    argv.insert(argv.end(), {"--max-time", std::to_string(request.max_time.count())});
    argv.insert(argv.end(), {"-D", header_file.string(), "-o", body_file.string()});
    argv.insert(argv.end(), {"-w", "%{http_code} %{num_connects}\\n"});
    argv.insert(argv.end(), request.args.begin(), request.args.end());
    argv.push_back(request.urls[i]);
  }

  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(request.max_time) *
                           static_cast<long>(request.urls.size()) + std::chrono::seconds(5);
  const run_result ran = run(argv, {}, timeout);
  curl_result result;
  result.status = ran.status;
  result.err = ran.err;

  std::istringstream written(ran.out);
  for (const auto& [header_file, body_file] : files) {
    curl_response response;
    unsigned code = 0, connects = 0;
    written >> code >> connects;
    result.num_connects.push_back(connects);
    response.raw_headers = read_file(header_file);
    for (const auto& block : split_header_blocks(response.raw_headers)) {
      header_list headers;
      const unsigned status = parse_header_block(block, headers);
      if (status / 100 == 1) continue;  // 100 Continue and friends
      response.status = status;
      response.headers = std::move(headers);
    }
    if (std::filesystem::exists(body_file)) {
      response.body_size = std::filesystem::file_size(body_file);
      response.body_sha256 = sha256_file(body_file);
      if (response.body_size <= kept_body_limit) response.body = read_file(body_file);
      std::filesystem::remove(body_file);  // 50 MB downloads should not pile up
    } else {
      response.body_sha256 = sha256_hex("");
    }
    result.responses.push_back(std::move(response));
  }
  return result;
}

curl_result curl_runner::get(const std::string& url, std::vector<std::string> args) {
  curl_request request;
  request.urls = {url};
  request.args = std::move(args);
  return perform(request);
}

}  // namespace credproxy::test
