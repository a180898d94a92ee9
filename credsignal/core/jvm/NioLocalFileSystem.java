package credsignal.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.io.nativeio.NativeIO;

/**
 * Hadoop's local file system (checksums included), setting permissions with a system call.
 *
 * <p>Without Hadoop's native library, which pip's pyspark does not ship, RawLocalFileSystem sets the permission of
 * every file and folder it creates by starting a {@code chmod} process: three processes per partition a Parquet
 * write creates (the folder, the file, its checksum file). Writing one table of 396 export days started about
 * 1,200 of them. This class sets the same bits through java.nio instead. A sticky bit, which java.nio cannot
 * set, and a machine with the native library keep Hadoop's own way.
 */
public class NioLocalFileSystem extends LocalFileSystem {

    public NioLocalFileSystem() {
        super(new NioRawLocalFileSystem());
    }

    /** The raw (checksum-less) layer under NioLocalFileSystem. */
    public static class NioRawLocalFileSystem extends RawLocalFileSystem {

        @Override
        public void setPermission(Path path, FsPermission permission) throws IOException {
            if (NativeIO.isAvailable() || permission.getStickyBit()) {
                super.setPermission(path, permission);
                return;
            }
            Files.setPosixFilePermissions(pathToFile(path).toPath(), posixPermissions(permission.toShort()));
        }

        static Set<PosixFilePermission> posixPermissions(short mode) {
            PosixFilePermission[] byBit = {
                PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
                PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
            };
            Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
            for (int bit = 0; bit < byBit.length; bit++) {
                if ((mode & (1 << bit)) != 0) {
                    permissions.add(byBit[bit]);
                }
            }
            return permissions;
        }
    }
}
