# Installation: programs, deploy units, and the embeddable module as libcontd.so with a CMake
# package, so that a host program can run the container module inside its own actor system:
#
#   find_package(contd REQUIRED)
#   target_link_libraries(host PRIVATE contd::contd)
#   #include <src/module.hpp>      // contd::spawn_container_module(sys, cfg)
#
# The static libraries below the module are linked into libcontd.so; only CAF is part of its
# interface (its headers use CAF's types).

include(CMakePackageConfigHelpers)

set(CONTD_INCLUDE_ROOT ${CMAKE_INSTALL_INCLUDEDIR}/contd)
set(CONTD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/contd)

add_library(contd_embed SHARED src/module.cpp src/front_door.cpp src/config/actor_config.cpp)
add_library(contd::contd ALIAS contd_embed)
set_target_properties(contd_embed PROPERTIES
  OUTPUT_NAME contd
  EXPORT_NAME contd
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
target_compile_options(contd_embed PRIVATE ${CONTD_WARNINGS})
target_include_directories(contd_embed PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
  $<INSTALL_INTERFACE:${CONTD_INCLUDE_ROOT}>)
target_link_libraries(contd_embed
  PUBLIC CAF::core
  PRIVATE contd_module_actors contd_spec_builder contd_containerd_client contd_shim_reaper_actor
          contd_log_io contd_config contd_zbus_actors contd_messages)

install(TARGETS contd contctl contd-logger RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS deploy/contd-health DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS contd_embed EXPORT contdTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CONTD_INCLUDE_ROOT})

# The headers a host includes, under the same relative paths as in this repository.
install(DIRECTORY messages/ DESTINATION ${CONTD_INCLUDE_ROOT}/messages FILES_MATCHING PATTERN "*.hpp")
install(FILES src/module.hpp src/front_door.hpp DESTINATION ${CONTD_INCLUDE_ROOT}/src)
install(FILES src/config/actor_config.hpp DESTINATION ${CONTD_INCLUDE_ROOT}/src/config)
install(FILES src/zbus/redis_link.hpp DESTINATION ${CONTD_INCLUDE_ROOT}/src/zbus)

# Deploy units. The systemd unit names the programs where they are installed, which is known only
# at install time (`cmake --install --prefix P`, cpack's /usr): it is written then.
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/deploy/contd.service.in\" unit)
  string(REPLACE \"@CONTD_BINDIR@\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\" unit
         \"\${unit}\")
  set(dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  message(STATUS \"Installing: \${dest}/contd.service\")
  file(WRITE \"\${dest}/contd.service\" \"\${unit}\")
")
install(FILES deploy/contd.zinit.yaml deploy/containerd-node.toml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/contd)

install(EXPORT contdTargets NAMESPACE contd:: DESTINATION ${CONTD_CMAKE_DIR})
configure_package_config_file(cmake/contdConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/contdConfig.cmake INSTALL_DESTINATION ${CONTD_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/contdConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/contdConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/contdConfigVersion.cmake
        DESTINATION ${CONTD_CMAKE_DIR})

# cpack -G DEB: one package; dpkg-shlibdeps finds the shared libraries it needs, the rest are
# the programs contd drives.
set(CPACK_PACKAGE_NAME contd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "contd maintainers <contd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Zero-OS container module: zbus over Redis, containerd over gRPC")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "containerd, runc")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
include(CPack)
