#include "transport/directory/directory.h"

#include <vector>

#include "transport/directory/etcd_directory.h"
#include "transport/directory/file_directory.h"

namespace ferry::directory {
namespace {

constexpr char kAcceptedForms[] = "etcd://HOST:PORT[,HOST:PORT...] or file:///PATH";

Error bad_url(const std::string& url, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument,
                    "directory URL '" + url + "': " + why + " (accepted: " + kAcceptedForms + ")");
}

}  // namespace

Result<std::unique_ptr<Directory>> open_directory(const std::string& url, const DirectoryOptions& options) {
  constexpr std::string_view kEtcd = "etcd://";
  constexpr std::string_view kFile = "file://";
  if (url.compare(0, kEtcd.size(), kEtcd) == 0) {
    std::vector<std::string> endpoints;
    const std::string list = url.substr(kEtcd.size());
    size_t start = 0;
    for (;;) {
      const size_t comma = list.find(',', start);
      endpoints.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    for (const std::string& endpoint : endpoints) {
      if (endpoint.empty() || endpoint.find('/') != std::string::npos) {
        return bad_url(url, "'" + endpoint + "' is not HOST:PORT");
      }
    }
    auto directory = open_etcd_directory(endpoints, options);
    if (!directory.ok() && directory.error().code == ErrorCode::kInvalidArgument) {
      return bad_url(url, directory.error().message);
    }
    return directory;
  }
  if (url.compare(0, kFile.size(), kFile) == 0) {
    if (url.size() <= kFile.size() || url[kFile.size()] != '/') return bad_url(url, "the path must be absolute");
    return open_file_directory(url.substr(kFile.size()), options);
  }
  return bad_url(url, "unknown scheme");
}

}  // namespace ferry::directory
