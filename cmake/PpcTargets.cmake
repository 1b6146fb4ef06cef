# Helpers that give every ppc target the same flags. Targets that include LibTorch share one
# precompiled header (<torch/script.h> costs ~7 s per TU without it, ~2.5 s with it).

set(PPC_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# The PCHs are position-independent, since the Python extension (python/) links the libraries
# that use them into a shared module. GCC rejects a -fPIC PCH in a -fPIE compile
# (-Winvalid-pch), so an executable that reuses one is compiled with -fPIC as well.
function(ppc_pch_code target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_compile_options(${target} PRIVATE -fPIC)
  else()
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  endif()
endfunction()

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
ppc_pch_code(ppc_pch)

# A target whose sources include LibTorch: same flags as ppc_pch, so it reuses its PCH.
function(ppc_torch target)
  ppc_plain(${target})
  target_link_libraries(${target} PUBLIC torch)
  target_precompile_headers(${target} REUSE_FROM ppc_pch)
  ppc_pch_code(${target})
endfunction()

# A target of the compiler side (ppc), which runs nothing on a GPU: it links LibTorch's CPU
# library only, so that the ppc executable does not load LibTorch's CUDA libraries (cuBLAS,
# cuDNN, NCCL, ...) at every start, 0.3 s of a 1 s compile. Its own PCH, since `torch` adds
# compile definitions (NCCL, NVSHMEM) that `torch_cpu` does not have.
add_library(ppc_pch_cpu STATIC ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
function(ppc_torch_cpu_flags target)
  ppc_plain(${target})
  target_link_libraries(${target} PUBLIC torch_cpu_library)
  target_include_directories(${target} SYSTEM PUBLIC ${TORCH_INCLUDE_DIRS})
  target_compile_options(${target} PUBLIC ${TORCH_CXX_FLAGS})
endfunction()
ppc_torch_cpu_flags(ppc_pch_cpu)
target_precompile_headers(ppc_pch_cpu PRIVATE <torch/script.h>)
ppc_pch_code(ppc_pch_cpu)

function(ppc_torch_cpu target)
  ppc_torch_cpu_flags(${target})
  target_precompile_headers(${target} REUSE_FROM ppc_pch_cpu)
  ppc_pch_code(${target})
endfunction()
