/** Launch options for the system Chromium: `executablePath` and the flags every run uses. */
export declare const chromiumLaunchOptions: { executablePath: string; args: string[] };
