# The microbatch runtime behind pprun.
add_library(ppc_runtime STATIC
  ${CMAKE_CURRENT_LIST_DIR}/Manifest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Microbatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ThreadTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/GlooTransport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Executor.cpp
  ${CMAKE_CURRENT_LIST_DIR}/SplitBackward.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Training.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Pipeline.cpp
  ${CMAKE_CURRENT_LIST_DIR}/Launcher.cpp)
ppc_torch(ppc_runtime)
target_link_libraries(ppc_runtime PUBLIC ppc_schedule ppc_support nlohmann_json::nlohmann_json)
