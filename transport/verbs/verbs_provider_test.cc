// What can be checked of the verbs provider without an RDMA device; the functional
// checks on a device run in the qualification suite (hw_tests/).
#include "transport/verbs/verbs_provider.h"

#include <gtest/gtest.h>
#include <infiniband/verbs.h>

namespace ferry::verbs {
namespace {

TEST(VerbsStatus, MapsEveryStatusTheEngineActsOn) {
  EXPECT_EQ(status_from_ibv(IBV_WC_SUCCESS), Status::kSuccess);
  EXPECT_EQ(status_from_ibv(IBV_WC_LOC_LEN_ERR), Status::kLocalLengthError);
  EXPECT_EQ(status_from_ibv(IBV_WC_LOC_PROT_ERR), Status::kLocalProtectionError);
  EXPECT_EQ(status_from_ibv(IBV_WC_LOC_QP_OP_ERR), Status::kLocalProtectionError);
  EXPECT_EQ(status_from_ibv(IBV_WC_REM_ACCESS_ERR), Status::kRemoteAccessError);
  EXPECT_EQ(status_from_ibv(IBV_WC_REM_OP_ERR), Status::kRemoteOperationError);
  EXPECT_EQ(status_from_ibv(IBV_WC_REM_INV_REQ_ERR), Status::kRemoteInvalidRequest);
  EXPECT_EQ(status_from_ibv(IBV_WC_RNR_RETRY_EXC_ERR), Status::kRnrRetryExceeded);
  EXPECT_EQ(status_from_ibv(IBV_WC_RETRY_EXC_ERR), Status::kRetryExceeded);
  EXPECT_EQ(status_from_ibv(IBV_WC_WR_FLUSH_ERR), Status::kFlushed);
  EXPECT_EQ(status_from_ibv(IBV_WC_GENERAL_ERR), Status::kRemoteOperationError);
}

// Either the machine has an RDMA device and it opens with sane attributes, or opening
// fails with an error that says what is missing. Both outcomes are asserted.
TEST(VerbsProvider, OpensADeviceOrSaysWhatIsMissing) {
  auto provider = open_provider();
  if (!provider.ok()) {
    EXPECT_EQ(provider.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(provider.error().message.find("RDMA device"), std::string::npos) << provider.error().message;
    std::cout << "no RDMA device here: " << provider.error().message << "\n";
    return;
  }
  ASSERT_GT((*provider)->device_count(), 0u);
  const DeviceAttributes& attr = (*provider)->device(0).attributes();
  EXPECT_FALSE(attr.name.empty());
  EXPECT_GT(attr.max_sge, 0u);
  EXPECT_TRUE(attr.ordered || attr.unordered);
}

TEST(VerbsProvider, AFilterMatchingNothingIsAClearError) {
  VerbsOptions options;
  options.device_filter = "no-such-device-anywhere";
  auto provider = open_provider(options);
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace ferry::verbs
