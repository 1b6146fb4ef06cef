add_executable(pprun ${CMAKE_CURRENT_LIST_DIR}/pprun.cpp)
ppc_plain(pprun)
target_link_libraries(pprun PRIVATE ppc_runtime ppc_support)
