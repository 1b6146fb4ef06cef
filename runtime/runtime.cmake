# pipeline.json's schema, reader and writer: LibTorch-free, shared by codegen, driver and runtime.
add_library(ppc_manifest STATIC ${CMAKE_CURRENT_LIST_DIR}/Manifest.cpp)
ppc_plain(ppc_manifest)
target_link_libraries(ppc_manifest PUBLIC nlohmann_json::nlohmann_json)

# Zero-bubble's split backward, which pprun runs and ppc's stage timing measures.
add_library(ppc_split_backward STATIC ${CMAKE_CURRENT_LIST_DIR}/SplitBackward.cpp)
ppc_torch_cpu(ppc_split_backward)

# The training loss, which pprun applies and ppc's stage timing measures.
add_library(ppc_loss STATIC ${CMAKE_CURRENT_LIST_DIR}/Loss.cpp)
ppc_torch_cpu(ppc_loss)

# The microbatch runtime behind pprun.
add_library(ppc_runtime STATIC
  ${CMAKE_CURRENT_LIST_DIR}/Device.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Microbatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ThreadTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/GlooTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/P2PTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ValueCodec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/PendingSends.cpp
  ${CMAKE_CURRENT_LIST_DIR}/NcclBackend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Executor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Recompute.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Training.cpp
  ${CMAKE_CURRENT_LIST_DIR}/NonFinite.cpp
  ${CMAKE_CURRENT_LIST_DIR}/LrSchedule.cpp
  ${CMAKE_CURRENT_LIST_DIR}/DataSource.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Launcher.cpp)
ppc_torch(ppc_runtime)
if(PPC_WITH_CUDA)
  target_compile_definitions(ppc_runtime PRIVATE PPC_WITH_CUDA)
  # ProcessGroupNCCL's layout depends on the NCCL version: compile against the NCCL that
  # LibTorch loads (the nvidia-nccl wheel beside torch) when it is there.
  get_filename_component(PPC_SITE_PACKAGES "${Torch_DIR}/../../../.." ABSOLUTE)
  if(EXISTS ${PPC_SITE_PACKAGES}/nvidia/nccl/include/nccl.h)
    set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/NcclBackend.cpp PROPERTIES
      INCLUDE_DIRECTORIES ${PPC_SITE_PACKAGES}/nvidia/nccl/include SKIP_PRECOMPILE_HEADERS ON)
  endif()
endif()
target_link_libraries(ppc_runtime PUBLIC ppc_loss ppc_manifest ppc_schedule ppc_split_backward ppc_support
                      nlohmann_json::nlohmann_json)
