/** @type {import('jest').Config} */
module.exports = {
  preset: 'jest-expo',
  setupFiles: ['<rootDir>/jest.setup.ts'],
  transformIgnorePatterns: [
    'node_modules/(?!((jest-)?react-native|@react-native(-community)?)|expo(nent)?|@expo(nent)?/.*|@expo-google-fonts/.*|react-navigation|@react-navigation/.*|@livekit|livekit-client)',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/android/', '/ios/', '/dist/'],
  // The first render of a suite pays for transforming livekit/react-native on a cold cache;
  // on a loaded 2-core CI box that alone can pass jest's 5 s default.
  testTimeout: 30000,
  testMatch: ['<rootDir>/__tests__/**/*.test.ts?(x)'],
};
