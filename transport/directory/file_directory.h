// FileDirectory: the directory as files in a folder every process of the cluster can read
// (processes of one host; `ferry replay --launch`). An entry is one file, written whole
// and renamed into place, so a reader never sees half of it. A key already owned by a
// live process of this host is refused, as etcd refuses it; there is no lease: the
// entries of a process that dies stay until their owner's pid is gone (they are then
// treated as absent) or the folder is removed.
#pragma once

#include <memory>
#include <string>

#include "transport/directory/directory.h"

namespace ferry::directory {

// `path`: the folder (created if missing). Keys live under path/<cluster>/.
Result<std::unique_ptr<Directory>> open_file_directory(const std::string& path, const DirectoryOptions& options = {});

}  // namespace ferry::directory
