#include "transport/directory/file_directory.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace ferry::directory {
namespace {

// A key as a file name: '/' and '%' escaped, so any key is one file in one folder.
std::string file_name(const std::string& key) {
  std::string name;
  for (char ch : key) {
    if (ch == '%') {
      name += "%25";
    } else if (ch == '/') {
      name += "%2F";
    } else {
      name += ch;
    }
  }
  return name;
}

std::string key_of(const std::string& name) {
  std::string key;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && name.compare(i, 3, "%2F") == 0) {
      key += '/', i += 2;
    } else if (name[i] == '%' && name.compare(i, 3, "%25") == 0) {
      key += '%', i += 2;
    } else {
      key += name[i];
    }
  }
  return key;
}

bool process_alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

std::string system_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// An entry file: "pid <owner>\n" then the value.
struct Entry {
  pid_t owner = 0;
  std::string value;
};

std::optional<Entry> read_entry(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string header;
  if (!std::getline(in, header) || header.rfind("pid ", 0) != 0) return std::nullopt;
  Entry e;
  e.owner = static_cast<pid_t>(std::strtol(header.c_str() + 4, nullptr, 10));
  std::ostringstream rest;
  rest << in.rdbuf();
  e.value = rest.str();
  return e;
}

class FileDirectory final : public Directory {
 public:
  FileDirectory(std::string root, std::string folder, DirectoryOptions options)
      : root_(std::move(root)), folder_(std::move(folder)), options_(std::move(options)) {}
  ~FileDirectory() override { close(); }

  VoidResult publish(const std::string& key, const std::string& value) override {
    const std::string path = path_of(key);
    const std::string temp = folder_ + "/.tmp." + std::to_string(getpid()) + "." + std::to_string(next_temp_++);
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << "pid " << getpid() << "\n" << value;
      if (!out.flush()) return make_error(ErrorCode::kUnavailable, system_error("writing", temp));
    }
    // link() creates the entry only if no file has its name: two processes racing for a
    // key cannot both win.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (link(temp.c_str(), path.c_str()) == 0) break;
      if (errno != EEXIST) {
        const std::string why = system_error("publishing", path);
        unlink(temp.c_str());
        return make_error(ErrorCode::kUnavailable, why);
      }
      const std::optional<Entry> existing = read_entry(path);
      if (existing && existing->owner == getpid()) {
        rename(temp.c_str(), path.c_str());  // our own entry: replace it
        published_.insert(key);
        return {};
      }
      if (existing && process_alive(existing->owner)) {
        unlink(temp.c_str());
        return make_error(ErrorCode::kFailedPrecondition, describe() + ": '" + key + "' is already published by process " +
                                                              std::to_string(existing->owner));
      }
      unlink(path.c_str());  // a dead process's entry
    }
    unlink(temp.c_str());
    published_.insert(key);
    return {};
  }

  VoidResult withdraw(const std::string& key) override {
    const std::optional<Entry> existing = read_entry(path_of(key));
    if (existing && existing->owner == getpid()) unlink(path_of(key).c_str());
    published_.erase(key);
    return {};
  }

  Result<std::optional<std::string>> lookup(const std::string& key) override {
    const std::optional<Entry> e = read_entry(path_of(key));
    if (!e || !process_alive(e->owner)) return std::optional<std::string>();
    return std::optional<std::string>(e->value);
  }

  Result<std::string> wait_for(const std::string& key, uint64_t timeout_ms) override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto found = lookup(key);
      if (!found.ok()) return found.error();
      if (found->has_value()) return **found;
      if (std::chrono::steady_clock::now() >= deadline) {
        return make_error(ErrorCode::kDeadlineExceeded, describe() + ": nobody published '" + key + "' within " +
                                                            std::to_string(timeout_ms) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  Result<std::map<std::string, std::string>> list(const std::string& prefix) override {
    std::map<std::string, std::string> found;
    DIR* dir = opendir(folder_.c_str());
    if (dir == nullptr) return make_error(ErrorCode::kUnavailable, system_error("reading", folder_));
    while (dirent* d = readdir(dir)) {
      const std::string name = d->d_name;
      if (name.empty() || name[0] == '.') continue;
      const std::string key = key_of(name);
      if (key.rfind(prefix, 0) != 0) continue;
      const std::optional<Entry> e = read_entry(folder_ + "/" + name);
      if (e && process_alive(e->owner)) found[key] = e->value;
    }
    closedir(dir);
    return found;
  }

  VoidResult keep_alive() override {
    struct stat st {};
    if (stat(folder_.c_str(), &st) != 0) return make_error(ErrorCode::kUnavailable, system_error("checking", folder_));
    return {};
  }

  void close() override {
    const std::set<std::string> keys = published_;
    for (const std::string& key : keys) (void)withdraw(key);
  }

  std::string describe() const override { return "file://" + root_ + " (cluster " + options_.cluster + ")"; }

 private:
  std::string path_of(const std::string& key) const { return folder_ + "/" + file_name(key); }

  std::string root_;
  std::string folder_;
  DirectoryOptions options_;
  std::set<std::string> published_;
  uint64_t next_temp_ = 0;
};

VoidResult make_folder(const std::string& path) {
  // Each level in turn: `path` may not exist yet at all.
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at != path.size() && path[at] != '/') continue;
    const std::string level = path.substr(0, at);
    if (mkdir(level.c_str(), 0755) != 0 && errno != EEXIST) {
      return make_error(ErrorCode::kUnavailable, system_error("creating", level));
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Directory>> open_file_directory(const std::string& path, const DirectoryOptions& options) {
  if (path.empty() || path[0] != '/') {
    return make_error(ErrorCode::kInvalidArgument, "file directory: '" + path + "' is not an absolute path");
  }
  if (options.cluster.empty() || options.cluster.find('/') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "file directory: cluster name '" + options.cluster +
                                                       "' must be non-empty and without '/'");
  }
  const std::string folder = path + "/" + options.cluster;
  if (auto made = make_folder(folder); !made.ok()) return made.error();
  return std::unique_ptr<Directory>(new FileDirectory(path, folder, options));
}

}  // namespace ferry::directory
