# pipeline.json's schema, reader and writer: LibTorch-free, shared by codegen, driver and runtime.
add_library(ppc_manifest STATIC ${CMAKE_CURRENT_LIST_DIR}/Manifest.cpp)
ppc_plain(ppc_manifest)
target_link_libraries(ppc_manifest PUBLIC nlohmann_json::nlohmann_json)

# The microbatch runtime behind pprun.
add_library(ppc_runtime STATIC
  ${CMAKE_CURRENT_LIST_DIR}/Microbatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ThreadTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/GlooTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Executor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Training.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Launcher.cpp)
ppc_torch(ppc_runtime)
target_link_libraries(ppc_runtime PUBLIC ppc_manifest ppc_schedule ppc_support nlohmann_json::nlohmann_json)
