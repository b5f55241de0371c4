#include "transport/directory/directory.h"

#include "transport/directory/file_directory.h"

namespace ferry::directory {

Result<std::unique_ptr<Directory>> open_directory(const std::string& url, const DirectoryOptions& options) {
  const std::string file = "file://";
  if (url.rfind(file, 0) == 0) return open_file_directory(url.substr(file.size()), options);
  return make_error(ErrorCode::kInvalidArgument,
                    "directory '" + url + "': expected etcd://HOST:PORT[,HOST:PORT...] or file:///PATH");
}

}  // namespace ferry::directory
