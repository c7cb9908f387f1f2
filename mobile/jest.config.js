/** @type {import('jest').Config} */
module.exports = {
  preset: 'jest-expo',
  setupFiles: ['<rootDir>/jest.setup.ts'],
  transformIgnorePatterns: [
    'node_modules/(?!((jest-)?react-native|@react-native(-community)?)|expo(nent)?|@expo(nent)?/.*|@expo-google-fonts/.*|react-navigation|@react-navigation/.*|@livekit|livekit-client)',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/android/', '/ios/', '/dist/'],
  testMatch: ['<rootDir>/__tests__/**/*.test.ts?(x)'],
};
