# Helpers that give every ppc target the same flags. Targets that include LibTorch share one
# precompiled header (<torch/script.h> costs ~7 s per TU without it, ~2.5 s with it).

set(PPC_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# A library or executable that does not see LibTorch headers.
function(ppc_plain target)
  target_compile_options(${target} PRIVATE ${PPC_WARNINGS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_include_directories(${target} SYSTEM PUBLIC ${LLVM_INCLUDE_DIRS})
  target_compile_definitions(${target} PUBLIC ${PPC_LLVM_DEFS})
endfunction()

add_library(ppc_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
target_link_libraries(ppc_pch PUBLIC torch)
target_precompile_headers(ppc_pch PRIVATE <torch/script.h>)
ppc_plain(ppc_pch)

# A target whose sources include LibTorch: same flags as ppc_pch, so it reuses its PCH.
function(ppc_torch target)
  ppc_plain(${target})
  target_link_libraries(${target} PUBLIC torch)
  target_precompile_headers(${target} REUSE_FROM ppc_pch)
endfunction()
